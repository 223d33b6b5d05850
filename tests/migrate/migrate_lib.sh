# Shared set-up of the migration tests: a PostgreSQL server (tests/lib/pg.sh), a texas keyd
# (US only) with the keyd test policies, and a migration key. Source it after setting T
# (a temporary directory) and SRC, W (source dir, warden binary).
. "$SRC/tests/lib/pg.sh"
KPID=
mig_cleanup() {
    [ -n "$KPID" ] && kill "$KPID" 2>/dev/null && wait "$KPID" 2>/dev/null
    pg_stop
    rm -rf "$T"
}
fail() {
    echo "FAIL: $*"
    [ -f "$T/keyd.err" ] && tail -5 "$T/keyd.err" | sed 's/^/keyd: /'
    exit 1
}

# Starts keyd for region texas in $T.
keyd_start() {
    cp "$SRC"/tests/vectors/keyd/{policies.cedar,entities.json,messages.schema.json} "$T/"
    cat >"$T/keyd.json" <<EOC
{"region": "texas", "jurisdictions": ["US"], "data_dir": "data",
 "keys": {"provider": "keyfile", "path": "kek.key"},
 "policies": "policies.cedar", "entities": "entities.json",
 "schemas": ["messages.schema.json"],
 "log": {"dir": "log", "key": "log.key", "origin": "test.example/texas"},
 "socket": "keyd.sock", "peer_uids": [$(id -u)], "store_map_mb": 64}
EOC
    [ -f "$T/kek.key" ] || "$W" keys init --config "$T/keyd.json" >/dev/null || fail "keys init"
    "$W" keyd --config "$T/keyd.json" 2>>"$T/keyd.err" &
    KPID=$!
    for _ in $(seq 200); do [ -S "$T/keyd.sock" ] && break; sleep 0.05; done
    [ -S "$T/keyd.sock" ] || fail "keyd did not start"
}

# The legacy table of the migration docs, empty.
legacy_schema() {
    psql -q -v ON_ERROR_STOP=1 <<'EOS' || fail "create legacy table"
CREATE TABLE legacy_records (
  user_id text NOT NULL, jurisdiction text NOT NULL, collection text NOT NULL, id text NOT NULL,
  document jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, collection, id));
EOS
}

# Prints the answer of a migrator read of user/collection/id.
mig_read() {
    "$W" access --socket "$T/keyd.sock" --principal 'Service::"migrator"' --action read \
        --user "$1" --collection "$2" --id "$3" --purpose migration --source-ip 127.0.0.1 \
        --location US 2>/dev/null
}
