// Command tlogcheck is an independent verifier (and writer) of C2SP tlog-tiles logs,
// built only on Go's standard library and golang.org/x/mod/sumdb/{note,tlog}. The
// warden interop test uses it to check that a log written by `warden log` is what
// the public specs say, byte for byte, and that warden accepts what Go writes.
//
// Nothing here shares code or assumptions with warden's C implementation: hashes,
// tiles and proofs are all recomputed by Go's sumdb/tlog from the raw entries.
//
// Subcommands (each exits 1 with a message on the first failed check):
//
//	selftest                                  C2SP path examples vs our path mapping
//	verify  -dir D -vkey V                    full check of a log directory
//	inclusion -dir D -vkey V -proof F         check a `warden log prove` JSON proof
//	consistency -dir D -vkey V -old C -proof F  check a `warden log consistency` proof
//	keygen -name N -skey F -vkey-out F        new Ed25519 note key pair (Go encodings)
//	write -dir D -skey F -origin O [-ext L]   write a whole log from stdin lines
//	                                          (-ext: one checkpoint extension line)
//	sign -in F -skey F -out F                 re-sign a checkpoint body with a Go key
//	cosign -in F -vkey V -skey F -out F       add a Go signature to a note V verifies
//	size -dir D                               print the tree size of D's checkpoint (unverified)
//
// V is a verifier key string or the name of a file that holds one.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// C2SP tlog-tiles fixes the tile height at 8 (256 hashes or entries per full tile).
const height = 8
const width = 1 << height

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "tlogcheck: "+format+"\n", args...)
	os.Exit(1)
}

// c2spPath maps a Go sumdb tile to its C2SP tlog-tiles path. Go writes the height
// into the path (tile/8/0/...) and calls the entry level "data" (tile/8/data/...);
// C2SP fixes the height at 8, drops it from the path, and calls entry bundles
// tile/entries/.... The index encoding (x001/x234/067) and the .p/<W> suffix are
// the same in both, so we derive the C2SP path from Go's own Tile.Path().
func c2spPath(t tlog.Tile) string {
	if t.H != height {
		fail("internal: tile height %d", t.H)
	}
	p := t.Path()
	prefix := fmt.Sprintf("tile/%d/", t.H)
	if !strings.HasPrefix(p, prefix) {
		fail("internal: Go tile path %q lacks %q", p, prefix)
	}
	rest := p[len(prefix):]
	if t.L == -1 {
		if !strings.HasPrefix(rest, "data/") {
			fail("internal: Go data tile path %q", p)
		}
		rest = "entries/" + rest[len("data/"):]
	}
	return "tile/" + rest
}

// selftest checks c2spPath against the examples in the C2SP tlog-tiles spec
// ("index 1234067 will be encoded as x001/x234/067", tile/<L>/<N>[.p/<W>],
// tile/entries/<N>[.p/<W>]) and against the round trip through Go's parser.
func selftest() {
	cases := []struct {
		t    tlog.Tile
		want string
	}{
		{tlog.Tile{H: 8, L: 0, N: 1234067, W: 256}, "tile/0/x001/x234/067"},
		{tlog.Tile{H: 8, L: 0, N: 1234067, W: 1}, "tile/0/x001/x234/067.p/1"},
		{tlog.Tile{H: 8, L: -1, N: 1234067, W: 256}, "tile/entries/x001/x234/067"},
		{tlog.Tile{H: 8, L: -1, N: 1234067, W: 255}, "tile/entries/x001/x234/067.p/255"},
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, "tile/0/000"},
		{tlog.Tile{H: 8, L: 1, N: 1000, W: 256}, "tile/1/x001/000"},
		{tlog.Tile{H: 8, L: 2, N: 5, W: 3}, "tile/2/005.p/3"},
		{tlog.Tile{H: 8, L: 0, N: 999, W: 256}, "tile/0/999"},
	}
	for _, c := range cases {
		got := c2spPath(c.t)
		if got != c.want {
			fail("selftest: %+v: got %q want %q", c.t, got, c.want)
		}
		back, err := tlog.ParseTilePath(c.t.Path())
		if err != nil || back != c.t {
			fail("selftest: Go round trip of %q: %+v %v", c.t.Path(), back, err)
		}
	}
	fmt.Printf("ok selftest %d paths\n", len(cases))
}

func readVkey(v string) string {
	if b, err := os.ReadFile(v); err == nil {
		return strings.TrimSpace(string(b))
	}
	return strings.TrimSpace(v)
}

// checkpoint is a parsed C2SP tlog-checkpoint body.
type checkpoint struct {
	origin string
	tree   tlog.Tree
	ext    []string
}

// parseCheckpoint parses the body per C2SP tlog-checkpoint: origin line, decimal
// size without leading zeros, standard base64 32-byte root, then extension lines.
// (tlog.ParseTree only accepts the go.sum "go.sum database tree" header.)
func parseCheckpoint(text string) (checkpoint, error) {
	var c checkpoint
	if !strings.HasSuffix(text, "\n") {
		return c, errors.New("checkpoint body does not end in newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return c, fmt.Errorf("checkpoint body has %d lines, want >= 3", len(lines))
	}
	if lines[0] == "" {
		return c, errors.New("checkpoint origin line is empty")
	}
	c.origin = lines[0]
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || lines[1] != strconv.FormatInt(n, 10) {
		return c, fmt.Errorf("checkpoint size line %q is not a canonical decimal", lines[1])
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize {
		return c, fmt.Errorf("checkpoint root line %q is not base64 of 32 bytes", lines[2])
	}
	c.tree.N = n
	copy(c.tree.Hash[:], h)
	for _, l := range lines[3:] {
		if l == "" {
			return c, errors.New("checkpoint has an empty extension line")
		}
	}
	c.ext = lines[3:]
	return c, nil
}

// openCheckpoint verifies a signed checkpoint file with vkey and parses it.
func openCheckpoint(file, vkey string) checkpoint {
	msg, err := os.ReadFile(file)
	if err != nil {
		fail("%v", err)
	}
	v, err := note.NewVerifier(readVkey(vkey))
	if err != nil {
		fail("verifier key: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		fail("%s: signature: %v", file, err)
	}
	c, err := parseCheckpoint(n.Text)
	if err != nil {
		fail("%s: %v", file, err)
	}
	if c.origin != v.Name() {
		// C2SP tlog-checkpoint: the key name should be the origin. Warn, not fail:
		// the spec says SHOULD.
		fmt.Fprintf(os.Stderr, "tlogcheck: note: key name %q differs from origin %q\n", v.Name(), c.origin)
	}
	return c
}

// memHashes is every stored hash of a tree, in tlog storage order.
type memHashes []tlog.Hash

func (m *memHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(*m)) {
			return nil, fmt.Errorf("hash index %d not stored (have %d)", x, len(*m))
		}
		out[i] = (*m)[x]
	}
	return out, nil
}

// parseBundle splits a C2SP entry bundle: big-endian uint16 length, then bytes.
func parseBundle(path string, data []byte, want int) ([][]byte, error) {
	var out [][]byte
	off := 0
	for off < len(data) {
		if len(data)-off < 2 {
			return nil, fmt.Errorf("%s: truncated length prefix at byte %d", path, off)
		}
		n := int(binary.BigEndian.Uint16(data[off:]))
		off += 2
		if len(data)-off < n {
			return nil, fmt.Errorf("%s: entry %d: length %d runs past end (%d bytes left)", path, len(out), n, len(data)-off)
		}
		out = append(out, data[off:off+n])
		off += n
	}
	if len(out) != want {
		return nil, fmt.Errorf("%s: has %d entries, want %d", path, len(out), want)
	}
	return out, nil
}

// bundleTile is the entry bundle holding entries [256*n, 256*n+w).
func bundleTile(n int64, w int) tlog.Tile { return tlog.Tile{H: height, L: -1, N: n, W: w} }

// readEntries reads every entry bundle for a tree of size n.
func readEntries(dir string, size int64) ([][]byte, map[string]bool, error) {
	seen := map[string]bool{}
	var entries [][]byte
	for n := int64(0); n*width < size; n++ {
		w := width
		if size-n*width < width {
			w = int(size - n*width)
		}
		p := c2spPath(bundleTile(n, w))
		data, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			return nil, nil, fmt.Errorf("entry bundle %s (entries %d..%d): %v", p, n*width, n*width+int64(w)-1, err)
		}
		seen[p] = true
		es, err := parseBundle(p, data, w)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, es...)
	}
	return entries, seen, nil
}

// treeTiles lists the hash tiles a C2SP log of the given size publishes: every
// full tile at every level, and the rightmost partial tile where one exists.
func treeTiles(size int64) []tlog.Tile {
	var out []tlog.Tile
	for l := 0; size>>(uint(l)*height) > 0; l++ {
		cnt := size >> (uint(l) * height)
		for n := int64(0); n < cnt/width; n++ {
			out = append(out, tlog.Tile{H: height, L: l, N: n, W: width})
		}
		if w := int(cnt % width); w > 0 {
			out = append(out, tlog.Tile{H: height, L: l, N: cnt / width, W: w})
		}
	}
	return out
}

// dirTiles serves tiles from a log directory to tlog.TileHashReader, which then
// authenticates every tile it reads against the checkpoint's root.
type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return height }
func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := os.ReadFile(filepath.Join(d.dir, c2spPath(t)))
		if err != nil {
			return nil, err
		}
		if len(b) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("%s: %d bytes, want %d", c2spPath(t), len(b), t.W*tlog.HashSize)
		}
		out[i] = b
	}
	return out, nil
}
func (d dirTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// load verifies the checkpoint, reads all entries and recomputes every stored hash.
func load(dir, vkey string) (checkpoint, [][]byte, *memHashes, map[string]bool) {
	c := openCheckpoint(filepath.Join(dir, "checkpoint"), vkey)
	entries, seen, err := readEntries(dir, c.tree.N)
	if err != nil {
		fail("%v", err)
	}
	hs := &memHashes{}
	for i, e := range entries {
		add, err := tlog.StoredHashes(int64(i), e, hs)
		if err != nil {
			fail("stored hashes for entry %d: %v", i, err)
		}
		*hs = append(*hs, add...)
	}
	if c.tree.N > 0 {
		root, err := tlog.TreeHash(c.tree.N, hs)
		if err != nil {
			fail("tree hash: %v", err)
		}
		if root != c.tree.Hash {
			fail("checkpoint root %v != root %v recomputed from %d entries", c.tree.Hash, root, c.tree.N)
		}
	} else {
		// RFC 6962: the hash of the empty tree is SHA-256 of the empty string.
		var empty tlog.Hash
		e, _ := base64.StdEncoding.DecodeString("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
		copy(empty[:], e)
		if c.tree.Hash != empty {
			fail("empty checkpoint root %v is not SHA-256(\"\")", c.tree.Hash)
		}
	}
	return c, entries, hs, seen
}

func verify(dir, vkey string) {
	c, _, hs, seen := load(dir, vkey)
	seen["checkpoint"] = true
	// The appender's write-ahead journal lives beside the layout; servers refuse dotfiles,
	// so it is never part of what a client sees.
	seen[".journal"] = true
	want := map[string]tlog.Tile{}
	for _, t := range treeTiles(c.tree.N) {
		p := c2spPath(t)
		want[p] = t
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			fail("hash tile %s: %v", p, err)
		}
		exp, err := tlog.ReadTileData(t, hs)
		if err != nil {
			fail("computing %s: %v", p, err)
		}
		if !bytes.Equal(got, exp) {
			fail("hash tile %s differs from Go's (%d vs %d bytes)", p, len(got), len(exp))
		}
		seen[p] = true
	}
	// Every other file must be an older partial tile or bundle (C2SP lets a log keep
	// them), and then its contents must be a prefix of the current tile's.
	stale := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if seen[rel] {
			return nil
		}
		gp := rel
		if strings.HasPrefix(rel, "tile/entries/") {
			gp = "tile/8/data/" + rel[len("tile/entries/"):]
		} else if strings.HasPrefix(rel, "tile/") {
			gp = "tile/8/" + rel[len("tile/"):]
		}
		t, perr := tlog.ParseTilePath(gp)
		if perr != nil || t.W == width {
			return fmt.Errorf("unexpected file %s in log directory", rel)
		}
		data, rerr := os.ReadFile(path)
		if rerr != nil {
			return rerr
		}
		if t.L == -1 {
			es, berr := parseBundle(rel, data, t.W)
			if berr != nil {
				return berr
			}
			for i, e := range es {
				idx := t.N*width + int64(i)
				if idx >= c.tree.N {
					return fmt.Errorf("stale bundle %s holds entry %d beyond tree size %d", rel, idx, c.tree.N)
				}
				h, _ := hs.ReadHashes([]int64{tlog.StoredHashIndex(0, idx)})
				if h[0] != tlog.RecordHash(e) {
					return fmt.Errorf("stale bundle %s: entry %d differs from the log", rel, idx)
				}
			}
		} else {
			if (t.N<<height)+int64(t.W) > c.tree.N>>(uint(t.L)*height) {
				return fmt.Errorf("stale tile %s extends beyond tree size %d", rel, c.tree.N)
			}
			exp, rerr := tlog.ReadTileData(t, hs)
			if rerr != nil || !bytes.Equal(exp, data) {
				return fmt.Errorf("stale partial tile %s is not a prefix of the tree", rel)
			}
		}
		stale++
		return nil
	})
	if err != nil {
		fail("%v", err)
	}
	// Let Go's own tile reader authenticate the on-disk tiles against the root, as a
	// remote client would: the tree hash and a few record proofs through tiles only.
	if c.tree.N > 0 {
		thr := tlog.TileHashReader(c.tree, dirTiles{dir})
		root, err := tlog.TreeHash(c.tree.N, thr)
		if err != nil || root != c.tree.Hash {
			fail("TileHashReader tree hash: %v %v", root, err)
		}
		for _, i := range []int64{0, c.tree.N / 2, c.tree.N - 1} {
			p, err := tlog.ProveRecord(c.tree.N, i, thr)
			if err != nil {
				fail("ProveRecord(%d) from tiles: %v", i, err)
			}
			if err := tlog.CheckRecord(p, c.tree.N, c.tree.Hash, i, (*hs)[tlog.StoredHashIndex(0, i)]); err != nil {
				fail("CheckRecord(%d) from tiles: %v", i, err)
			}
		}
	}
	fmt.Printf("ok %d entries, %d tiles+bundles, %d stale partials, origin %s\n",
		c.tree.N, len(seen)-1, stale, c.origin)
}

func decodeHash(what, s string) tlog.Hash {
	var h tlog.Hash
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		fail("%s %q is not base64 of 32 bytes", what, s)
	}
	copy(h[:], b)
	return h
}

func decodeProof(what string, ss []string) []tlog.Hash {
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		out[i] = decodeHash(fmt.Sprintf("%s[%d]", what, i), s)
	}
	return out
}

func readJSON(file string, v interface{}) {
	b, err := os.ReadFile(file)
	if err != nil {
		fail("%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		fail("%s: %v", file, err)
	}
}

func equalProofs(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func inclusion(dir, vkey, file string) {
	var p struct {
		Index    *int64   `json:"index"`
		TreeSize *int64   `json:"tree_size"`
		LeafHash string   `json:"leaf_hash"`
		Root     string   `json:"root"`
		Proof    []string `json:"proof"`
	}
	readJSON(file, &p)
	if p.Index == nil || p.TreeSize == nil || p.Proof == nil {
		fail("%s: missing index, tree_size or proof", file)
	}
	c, entries, hs, _ := load(dir, vkey)
	root := decodeHash("root", p.Root)
	leaf := decodeHash("leaf_hash", p.LeafHash)
	proof := decodeProof("proof", p.Proof)
	if *p.TreeSize != c.tree.N || root != c.tree.Hash {
		fail("proof is for tree %d %v, checkpoint is %d %v", *p.TreeSize, root, c.tree.N, c.tree.Hash)
	}
	if *p.Index < 0 || *p.Index >= c.tree.N {
		fail("index %d outside tree of size %d", *p.Index, c.tree.N)
	}
	if leaf != tlog.RecordHash(entries[*p.Index]) {
		fail("leaf_hash is not RFC 6962 leaf hash of entry %d", *p.Index)
	}
	if err := tlog.CheckRecord(proof, c.tree.N, c.tree.Hash, *p.Index, leaf); err != nil {
		fail("CheckRecord(index %d, size %d): %v", *p.Index, c.tree.N, err)
	}
	// RFC 6962 audit paths are unique, so warden's must equal Go's exactly.
	gp, err := tlog.ProveRecord(c.tree.N, *p.Index, hs)
	if err != nil || !equalProofs(gp, proof) {
		fail("proof differs from Go's ProveRecord (%d vs %d hashes) %v", len(proof), len(gp), err)
	}
	fmt.Printf("ok inclusion index %d tree %d (%d hashes)\n", *p.Index, c.tree.N, len(proof))
}

func consistency(dir, vkey, oldFile, file string) {
	var p struct {
		OldSize *int64   `json:"old_size"`
		NewSize *int64   `json:"new_size"`
		OldRoot string   `json:"old_root"`
		NewRoot string   `json:"new_root"`
		Proof   []string `json:"proof"`
	}
	readJSON(file, &p)
	if p.OldSize == nil || p.NewSize == nil || p.Proof == nil {
		fail("%s: missing old_size, new_size or proof", file)
	}
	old := openCheckpoint(oldFile, vkey)
	c, _, hs, _ := load(dir, vkey)
	oldRoot := decodeHash("old_root", p.OldRoot)
	newRoot := decodeHash("new_root", p.NewRoot)
	proof := decodeProof("proof", p.Proof)
	if *p.OldSize != old.tree.N || oldRoot != old.tree.Hash {
		fail("old side %d %v does not match old checkpoint %d %v", *p.OldSize, oldRoot, old.tree.N, old.tree.Hash)
	}
	if *p.NewSize != c.tree.N || newRoot != c.tree.Hash {
		fail("new side %d %v does not match checkpoint %d %v", *p.NewSize, newRoot, c.tree.N, c.tree.Hash)
	}
	if old.tree.N > 0 {
		if err := tlog.CheckTree(proof, c.tree.N, c.tree.Hash, old.tree.N, old.tree.Hash); err != nil {
			fail("CheckTree(%d -> %d): %v", old.tree.N, c.tree.N, err)
		}
		gp, err := tlog.ProveTree(c.tree.N, old.tree.N, hs)
		if err != nil || !equalProofs(gp, proof) {
			fail("proof differs from Go's ProveTree (%d vs %d hashes) %v", len(proof), len(gp), err)
		}
	} else if len(proof) != 0 {
		fail("consistency from the empty tree must have an empty proof, got %d hashes", len(proof))
	}
	fmt.Printf("ok consistency %d -> %d (%d hashes)\n", old.tree.N, c.tree.N, len(proof))
}

func keygen(name, skeyFile, vkeyFile string) {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		fail("%v", err)
	}
	if err := os.WriteFile(skeyFile, []byte(skey+"\n"), 0o600); err != nil {
		fail("%v", err)
	}
	if err := os.WriteFile(vkeyFile, []byte(vkey+"\n"), 0o644); err != nil {
		fail("%v", err)
	}
	fmt.Println(vkey)
}

func readSigner(file string) note.Signer {
	b, err := os.ReadFile(file)
	if err != nil {
		fail("%v", err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		fail("signer key %s: %v", file, err)
	}
	return s
}

func writeFile(dir, rel string, data []byte) {
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		fail("%v", err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		fail("%v", err)
	}
}

// write builds a complete C2SP log from stdin lines entirely with Go's tlog, so
// that warden can be checked against a log it did not write.
func write(dir, skeyFile, origin, ext string) {
	s := readSigner(skeyFile)
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("%v", err)
	}
	var entries [][]byte
	if len(in) > 0 {
		entries = bytes.Split(bytes.TrimSuffix(in, []byte("\n")), []byte("\n"))
	}
	hs := &memHashes{}
	for i, e := range entries {
		if len(e) > 0xffff {
			fail("entry %d too long", i)
		}
		add, err := tlog.StoredHashes(int64(i), e, hs)
		if err != nil {
			fail("%v", err)
		}
		*hs = append(*hs, add...)
	}
	size := int64(len(entries))
	for n := int64(0); n*width < size; n++ {
		w := width
		if size-n*width < width {
			w = int(size - n*width)
		}
		var b []byte
		for _, e := range entries[n*width : n*width+int64(w)] {
			b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
			b = append(b, e...)
		}
		writeFile(dir, c2spPath(bundleTile(n, w)), b)
	}
	for _, t := range treeTiles(size) {
		data, err := tlog.ReadTileData(t, hs)
		if err != nil {
			fail("%v", err)
		}
		writeFile(dir, c2spPath(t), data)
	}
	root := tlog.Hash{}
	if size > 0 {
		if root, err = tlog.TreeHash(size, hs); err != nil {
			fail("%v", err)
		}
	} else {
		e, _ := base64.StdEncoding.DecodeString("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
		copy(root[:], e)
	}
	text := fmt.Sprintf("%s\n%d\n%s\n", origin, size, root)
	if ext != "" {
		text += ext + "\n"
	}
	msg, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		fail("%v", err)
	}
	writeFile(dir, "checkpoint", msg)
	fmt.Printf("wrote %d entries\n", size)
}

// sign re-signs the body of an existing signed note (signatures are not checked)
// with a Go signer, dropping the old signatures.
func sign(in, skeyFile, out string) {
	msg, err := os.ReadFile(in)
	if err != nil {
		fail("%v", err)
	}
	i := bytes.Index(msg, []byte("\n\n"))
	if i < 0 {
		fail("%s: no blank line before signatures", in)
	}
	signed, err := note.Sign(&note.Note{Text: string(msg[:i+1])}, readSigner(skeyFile))
	if err != nil {
		fail("%v", err)
	}
	if err := os.WriteFile(out, signed, 0o644); err != nil {
		fail("%v", err)
	}
}

// cosign adds a Go signature to a note that vkey verifies, keeping its signatures.
func cosign(in, vkey, skeyFile, out string) {
	msg, err := os.ReadFile(in)
	if err != nil {
		fail("%v", err)
	}
	v, err := note.NewVerifier(readVkey(vkey))
	if err != nil {
		fail("verifier key: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		fail("%s: %v", in, err)
	}
	signed, err := note.Sign(n, readSigner(skeyFile))
	if err != nil {
		fail("%v", err)
	}
	if err := os.WriteFile(out, signed, 0o644); err != nil {
		fail("%v", err)
	}
}

func size(dir string) {
	msg, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		fail("%v", err)
	}
	lines := strings.SplitN(string(msg), "\n", 3)
	if len(lines) < 3 {
		fail("bad checkpoint")
	}
	fmt.Println(lines[1])
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: tlogcheck selftest|verify|inclusion|consistency|keygen|write|sign|cosign|size ...")
	}
	fset := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fset.String("dir", "", "log directory")
	vkey := fset.String("vkey", "", "verifier key or file")
	proof := fset.String("proof", "", "proof JSON file")
	old := fset.String("old", "", "old checkpoint file")
	name := fset.String("name", "", "key name")
	skey := fset.String("skey", "", "signer key file")
	vkeyOut := fset.String("vkey-out", "", "verifier key output file")
	origin := fset.String("origin", "", "checkpoint origin")
	in := fset.String("in", "", "input file")
	out := fset.String("out", "", "output file")
	ext := fset.String("ext", "", "checkpoint extension line")
	if err := fset.Parse(os.Args[2:]); err != nil {
		fail("%v", err)
	}
	need := func(vals ...string) {
		for _, v := range vals {
			if v == "" {
				fail("%s: missing a required flag", os.Args[1])
			}
		}
	}
	switch os.Args[1] {
	case "selftest":
		selftest()
	case "verify":
		need(*dir, *vkey)
		verify(*dir, *vkey)
	case "inclusion":
		need(*dir, *vkey, *proof)
		inclusion(*dir, *vkey, *proof)
	case "consistency":
		need(*dir, *vkey, *proof, *old)
		consistency(*dir, *vkey, *old, *proof)
	case "keygen":
		need(*name, *skey, *vkeyOut)
		keygen(*name, *skey, *vkeyOut)
	case "write":
		need(*dir, *skey, *origin)
		write(*dir, *skey, *origin, *ext)
	case "sign":
		need(*in, *skey, *out)
		sign(*in, *skey, *out)
	case "cosign":
		need(*in, *vkey, *skey, *out)
		cosign(*in, *vkey, *skey, *out)
	case "size":
		need(*dir)
		size(*dir)
	default:
		fail("unknown subcommand %q", os.Args[1])
	}
}
