#!/bin/bash
# Malformed HTTP against a real gateway: every file of tests/gateway/malformed/ (bad request
# lines, bad headers, bad lengths and chunking, bad tokens; "lenient-" files are ones RFC 9112
# lets a server accept) plus generated giants (huge
# header, 3000 headers, huge target, huge X-Forwarded-For), random junk, pipelining, idle
# and slowloris connections, and connections over the limit. Each must get a 4xx (or 505)
# or a closed connection within the timeout — never a 2xx for a malformed request, never a
# hang — and the gateway must stay up and keep serving everyone else throughout.
. "${WARDEN_SOURCE_DIR:?}/tests/gateway/lib.sh"

start_keyd
start_gateway texas gw --threads 2 --timeout 2 --max-connections 64 --max-body 4096
U1=$(tok user u1 US) || fail "token"
PORT=$PT U1=$U1 CORPUS=$SRC/tests/gateway/malformed python3 - <<'EOF' || fail "malformed corpus"
import os, random, socket, sys, time

port = int(os.environ["PORT"])
tok = os.environ["U1"].encode()

def exchange(data, wait=6.0, shut=True):
    """Sends data; returns (status or None when closed without answer, elapsed)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(wait)
    t0 = time.time()
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
    except OSError:  # the server may close first (EPIPE, ECONNRESET, ENOTCONN)
        pass
    buf = b""
    try:
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except ConnectionResetError:
        pass
    except socket.timeout:
        s.close()
        raise SystemExit("no answer and no close within %.0fs" % wait)
    s.close()
    if not buf:
        return None, time.time() - t0
    line = buf.split(b"\r\n", 1)[0].split(b" ")
    return int(line[1]), time.time() - t0

def alive():
    st, _ = exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    if st != 200:
        raise SystemExit("gateway not serving /healthz any more: %r" % st)

def check(name, data, allowed=None, **kw):
    st, el = exchange(data, **kw)
    ok = st is None or 400 <= st < 500 or st == 505
    if allowed is not None:
        ok = st in allowed
    if not ok:
        raise SystemExit("%s: answered %r" % (name, st))
    alive()
    return st

corpus = os.environ["CORPUS"]
names = sorted(os.listdir(corpus))
assert len(names) >= 30, names
for n in names:
    data = open(os.path.join(corpus, n), "rb").read()
    # "lenient-": RFC 9112 lets a server accept these (bare LF line ends); any sane answer
    check(n, data, allowed=set(range(200, 600)) | {None} if n.startswith("lenient-") else None)

# generated giants
check("huge-header", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
check("many-headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\n" +
      b"".join(b"X-%d: y\r\n" % i for i in range(3000)) + b"\r\n")
check("huge-target", b"GET /v1/me/" + b"a" * 100000 + b"/b HTTP/1.1\r\nHost: x\r\n\r\n")
check("xff-huge", b"GET /v1/me/export HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok +
      b"\r\nX-Forwarded-For: " + b"1.2.3.4, " * 5000 + b"\r\n\r\n")
# a 2 MiB chunked body over the 4 KiB limit: 413 after draining it
body = b"".join(b"1000\r\n" + b"a" * 4096 + b"\r\n" for _ in range(512)) + b"0\r\n\r\n"
check("chunked-2MiB", b"PUT /v1/me/messages/m1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      tok + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + body, allowed={413, None})
rnd = random.Random(1234)
for i in range(40):
    junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 3000)))
    check("junk-%d" % i, junk)
# mutated valid requests: flip bytes of a real PUT
base = (b"PUT /v1/me/messages/m1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok +
        b"\r\nContent-Length: 9\r\n\r\n{\"a\": 1}\n")
for i in range(60):
    m = bytearray(base)
    for _ in range(rnd.randrange(1, 4)):
        m[rnd.randrange(len(m))] = rnd.randrange(256)
    st, _ = exchange(bytes(m))
    if st is not None and not (st < 600):
        raise SystemExit("mutant %d: %r" % (i, st))
    alive()

# pipelining: two requests in one write get two answers, in order
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(5)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n"
          b"Connection: close\r\n\r\n")
buf = b""
while True:
    c = s.recv(65536)
    if not c:
        break
    buf += c
s.close()
import re
assert re.findall(rb"HTTP/1\.1 (\d{3}) ", buf) == [b"200", b"404"], buf

# slowloris: a partial request is cut after the idle timeout, and others are served meanwhile
slow = socket.create_connection(("127.0.0.1", port))
slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
alive()
slow.settimeout(10)
t0 = time.time()
try:
    got = slow.recv(100)
except ConnectionResetError:
    got = b""
el = time.time() - t0
assert el < 8, "slowloris connection held %.1fs" % el
assert got == b"" or b" 408 " in got.split(b"\r\n")[0] or got.startswith(b"HTTP/1.1 4"), got
# a drip-feeding client (one byte per 0.3 s) does not stall anyone else
drip = socket.create_connection(("127.0.0.1", port))
for b in b"GET /healthz HTTP/1.1\r\nHo":
    try:
        drip.sendall(bytes([b]))
    except (BrokenPipeError, ConnectionResetError):
        break
    time.sleep(0.3)
    if b == ord("/"):
        alive()
drip.close()
alive()

# more idle connections than the limit: the extra ones are refused or closed, service resumes
conns = []
for i in range(100):
    try:
        conns.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError:
        break
time.sleep(0.3)
for c in conns:
    c.close()
time.sleep(0.5)
alive()
print("malformed: %d corpus files, giants, 40 junk, 60 mutants, pipelining, slowloris ok" % len(names))
EOF
kill -0 "$GPID" || fail "gateway died"
expect "healthz at the end" 200 "$(req hz "$TX/healthz")"
echo ok
