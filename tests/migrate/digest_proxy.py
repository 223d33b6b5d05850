# A keyd socket proxy for the migration tests that corrupts keyd's read-back digest in IMPORT
# answers: `python3 digest_proxy.py KEYD_SOCKET PROXY_SOCKET COUNT` flips one hex digit of the
# sha256 of the first COUNT written records it sees, and forwards everything else unchanged.
# It stands for a destination whose stored copy does not read back as written.
import json, socket, struct, sys, threading

upstream, path, budget = sys.argv[1], sys.argv[2], [int(sys.argv[3])]
lock = threading.Lock()

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b

def serve(client):
    up = socket.socket(socket.AF_UNIX)
    up.connect(upstream)
    types = []  # request types awaiting their replies, in order
    def requests():
        while True:
            h = recv_exact(client, 8)
            if h is None:
                break
            n, t, _ = struct.unpack(">IHH", h)
            types.append(t)
            up.sendall(h + recv_exact(client, n))
        up.shutdown(socket.SHUT_WR)
    threading.Thread(target=requests, daemon=True).start()
    while True:
        h = recv_exact(up, 8)
        if h is None:
            break
        n, t, r = struct.unpack(">IHH", h)
        p = recv_exact(up, n)
        if types.pop(0) == 9 and t == 0x81:
            a = json.loads(p)
            for res in a["results"]:
                with lock:
                    if budget[0] > 0 and isinstance(res[4], str):
                        budget[0] -= 1
                        res[4] = ("0" if res[4][0] != "0" else "1") + res[4][1:]
            p = json.dumps(a, separators=(",", ":")).encode()
            h = struct.pack(">IHH", len(p), t, r)
        client.sendall(h + p)
    client.close()

srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(16)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
