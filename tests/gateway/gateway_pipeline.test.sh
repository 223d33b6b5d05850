#!/bin/bash
# Many HTTP requests multiplexed over ONE pipelined keyd connection (--keyd-connections 1,
# 2 HTTP threads): concurrent first writes of new users (write, register, write again, all
# parked on the same connection) and concurrent keep-alive reads of different users' records,
# each checked by content against what was asked (user, record, request id, its own log
# entry). Then keyd failures: keyd SIGSTOPped -> every request in flight gets 503 within
# --keyd-timeout, never a hang, and the gateway serves again after SIGCONT; keyd killed
# under load -> 503s, no hang, and recovery once keyd is back.
. "${WARDEN_SOURCE_DIR:?}/tests/gateway/lib.sh"

start_keyd
start_gateway texas gw --threads 2 --keyd-connections 1 --keyd-timeout 2

NU=12
: >tokens.txt
for i in $(seq $NU); do
    echo "p$i $(tok user "p$i" US)" >>tokens.txt || fail "issue p$i"
done

# load.py MODE: drives the gateway from many threads; prints a JSON summary
cat >load.py <<'EOF'
import http.client, json, sys, threading, time, random
port, mode = int(sys.argv[1]), sys.argv[2]
toks = dict(l.split() for l in open("tokens.txt"))
users = sorted(toks)
RECS = 3
out = {"status": {}, "errors": [], "max_s": 0.0, "indexes": [], "n": 0}
lock = threading.Lock()

def doc(u, r):
    return {"title": "t-%s-%d" % (u, r), "body": "b-%s-%d" % (u, r) * 20,
            "author": {"name": "n-" + u, "phone": "555-%d" % r}}

def one(conn, method, u, r, body=None):
    h = {"Authorization": "Bearer " + toks[u]}
    t0 = time.monotonic()
    conn.request(method, "/v1/me/messages/r%d" % r, body=body, headers=h)
    resp = conn.getresponse()
    data = resp.read()
    dt = time.monotonic() - t0
    rid = resp.getheader("Warden-Request-Id")
    return resp.status, data, rid, dt

def record(st, dt, err=None, idx=None):
    with lock:
        out["n"] += 1
        out["status"][str(st)] = out["status"].get(str(st), 0) + 1
        out["max_s"] = max(out["max_s"], dt)
        if err:
            out["errors"].append(err)
        if idx is not None:
            out["indexes"].append(idx)

def check_read(u, r, st, data, rid, dt):
    if st != 200:
        return record(st, dt, None if mode != "read" else "GET %s r%d: %d %s" % (u, r, st, data[:200]))
    j = json.loads(data)
    want = doc(u, r)
    bad = []
    if j.get("document") != want:
        bad.append("document %r" % (j.get("document"),))
    if j.get("request_id") != rid:
        bad.append("request_id %r vs header %r" % (j.get("request_id"), rid))
    if j.get("region") != "texas" or j.get("decision") != "allow":
        bad.append("region/decision %r %r" % (j.get("region"), j.get("decision")))
    record(st, dt, "GET %s r%d: %s" % (u, r, "; ".join(bad)) if bad else None, j.get("log_index"))

def writer(u, r):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    st, data, rid, dt = one(conn, "PUT", u, r, json.dumps(doc(u, r)))
    ok = st == 200 and json.loads(data).get("request_id") == rid
    record(st, dt, None if ok else "PUT %s r%d: %d %s" % (u, r, st, data[:200]))

def reader(seed, n, until):
    rnd = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    k = 0
    while (k < n) if n else (time.monotonic() < until):
        u, r = rnd.choice(users), rnd.randrange(RECS)
        try:
            st, data, rid, dt = one(conn, "GET", u, r)
        except Exception as e:  # a connection cut: a new one, and count it
            record(0, 0, "GET %s r%d: %r" % (u, r, e) if mode == "read" else None)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            k += 1
            continue
        check_read(u, r, st, data, rid, dt)
        k += 1

if mode == "write":  # every user's first writes at once: register races included
    ts = [threading.Thread(target=writer, args=(u, r)) for u in users for r in range(RECS)]
elif mode == "read":
    ts = [threading.Thread(target=reader, args=(i, 25, 0)) for i in range(32)]
else:  # "for SECONDS": keep 16 readers going
    until = time.monotonic() + float(sys.argv[3])
    ts = [threading.Thread(target=reader, args=(i, 0, until)) for i in range(16)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(json.dumps(out))
EOF

summary() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# ---- concurrent first writes: 36 PUTs of 12 new users, on one keyd connection
python3 load.py "$PT" write >w.json || fail "write load crashed"
expect "writes answered 200" "{'200': $((NU * 3))}" "$(summary w.json 'j["status"]')"
expect "write errors" "[]" "$(summary w.json 'j["errors"][:3]')"

# ---- 800 concurrent keep-alive reads (32 clients), each answer checked by content
python3 load.py "$PT" read >r.json || fail "read load crashed"
expect "reads answered 200" "{'200': 800}" "$(summary r.json 'j["status"]')"
expect "read errors" "[]" "$(summary r.json 'j["errors"][:3]')"
expect "each read has its own log entry" 800 "$(summary r.json 'len(set(j["indexes"]))')"

# ---- keyd stopped: requests in flight get 503 after --keyd-timeout (2 s), never hang
kill -STOP "$KPID"
python3 load.py "$PT" for 3 >s.json || fail "load during SIGSTOP crashed"
kill -CONT "$KPID"
expect "stopped keyd: only 503s" "['503']" "$(summary s.json 'list(j["status"])')"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j["max_s"] < 6 else 1)' s.json ||
    fail "a request waited $(summary s.json 'j["max_s"]') s for a stopped keyd"
kill -STOP "$KPID"
st=$(req to -H "Authorization: Bearer $(awk 'NR==1{print $2}' tokens.txt)" "$TX/v1/me/messages/r0")
kill -CONT "$KPID"
expect "one request to a stopped keyd" 503 "$st"
grep -q 'did not answer in time' to.json || fail "the 503 does not say why: $(cat to.json)"
python3 load.py "$PT" read >r2.json || fail "read load after SIGCONT crashed"
expect "reads after SIGCONT" "{'200': 800}" "$(summary r2.json 'j["status"]')"
expect "read errors after SIGCONT" "[]" "$(summary r2.json 'j["errors"][:3]')"

# ---- keyd killed under load: 503s (no hang), then recovery when it is back
python3 load.py "$PT" for 4 >k.json &
LPID=$!
sleep 1
kill -KILL "$KPID"
wait "$KPID" 2>/dev/null
wait "$LPID" || fail "load during the kill crashed"
python3 - k.json <<'EOF' || fail "kill under load: $(cat k.json | head -c 600)"
import json, sys
j = json.load(open(sys.argv[1]))
st = j["status"]
assert set(st) <= {"200", "503", "0"}, st   # 0: a client connection cut (none expected)
assert st.get("503", 0) > 0 and st.get("200", 0) > 0, st
assert st.get("0", 0) == 0, st
assert j["max_s"] < 6, j["max_s"]
assert j["errors"] == [], j["errors"][:3]
EOF
expect "readyz with keyd down" 503 "$(req rz "$TX/readyz")"
start_keyd
for _ in $(seq 100); do [ "$(req rz "$TX/readyz")" = 200 ] && break; sleep 0.1; done
expect "readyz after keyd is back" 200 "$(req rz "$TX/readyz")"
python3 load.py "$PT" read >r3.json || fail "read load after restart crashed"
expect "reads after restart" "{'200': 800}" "$(summary r3.json 'j["status"]')"
expect "read errors after restart" "[]" "$(summary r3.json 'j["errors"][:3]')"
kill -0 "$GPID" || fail "gateway died"
for f in w r s k r3; do echo "$f: $(summary $f.json "j[\"status\"], round(j[\"max_s\"], 3)")"; done
echo "PASS: gateway pipelining"
