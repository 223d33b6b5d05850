# Reads records back from keyd as the migrator, pipelined over one connection, for the
# migration tests: `python3 keyd_read.py SOCKET < keys.tsv` (user, collection, id per line)
# prints "user<TAB>collection<TAB>id<TAB>version<TAB>canonical document" per record, or
# "...<TAB>-<TAB>outcome" when it is not readable.
import json, socket, struct, sys

def frame(t, body):
    p = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return struct.pack(">IHH", len(p), t, 0) + p

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit("keyd closed the connection")
        b += c
    return b

s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
keys = [l.rstrip("\n").split("\t") for l in sys.stdin if l.strip()]
ctx = {"source_ip": "127.0.0.1", "location": "US", "purpose": "migration"}
for i in range(0, len(keys), 32):
    chunk = keys[i:i + 32]
    out = b"".join(frame(1, {"request_id": "chk-%d" % (i + j), "principal": 'Service::"migrator"',
                             "action": "read", "user": u, "collection": c, "id": d,
                             "context": ctx}) for j, (u, c, d) in enumerate(chunk))
    s.sendall(out)
    for (u, c, d) in chunk:
        n, t, _ = struct.unpack(">IHH", recv_exact(s, 8))
        a = json.loads(recv_exact(s, n))
        if t != 0x81 or a.get("outcome") != "ok" or a.get("decision") != "allow":
            print("\t".join([u, c, d, "-", str(a.get("outcome") or a.get("error"))]))
        else:
            doc = json.dumps(a["document"], separators=(",", ":"), sort_keys=True, ensure_ascii=True)
            print("\t".join([u, c, d, str(a["version"]), doc]))
