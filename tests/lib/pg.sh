# A throwaway PostgreSQL server for tests, demos and benchmarks: initdb in a fresh temporary
# directory, listening on 127.0.0.1 at a free port and on a unix socket inside that directory,
# trust authentication for one superuser. Source this file, then:
#     pg_start            # sets PG_DIR, PGHOST, PGPORT, PGUSER, PGDATABASE, PG_CONNINFO
#     psql -c 'select 1'  # plain client tools work from the exported variables
#     pg_stop             # stops the server and removes PG_DIR (call it from your EXIT trap)
# initdb refuses to run as root, so as root the server runs as an unprivileged user
# (PG_RUN_USER, default "warden-pg", created with useradd when missing; CI is a clean Debian
# running as root). Extra server options: PG_EXTRA_OPTS (e.g. "-c fsync=off").

pg_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
    echo "pg.sh: no PostgreSQL server binaries (install Debian's postgresql)" >&2
    return 1
}

pg_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Runs "$@" as the server's user (ourselves unless we are root).
pg_as() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$PG_RUN_USER" -- "$@"
    else
        "$@"
    fi
}

pg_start() {
    local bin port
    bin=$(pg_bindir) || return 1
    PG_RUN_USER=${PG_RUN_USER:-warden-pg}
    if [ "$(id -u)" = 0 ] && ! id -u "$PG_RUN_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_RUN_USER" ||
            { echo "pg.sh: cannot create user $PG_RUN_USER" >&2; return 1; }
    fi
    PG_DIR=$(mktemp -d /tmp/warden-pg.XXXXXX) || return 1
    chmod 0755 "$PG_DIR"
    [ "$(id -u)" = 0 ] && chown "$PG_RUN_USER" "$PG_DIR"
    pg_as "$bin/initdb" -D "$PG_DIR/data" -U warden --auth=trust --encoding=UTF8 --locale=C \
        >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
    for _ in 1 2 3 4 5; do
        port=$(pg_free_port)
        if pg_as "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -c port=$port -k $PG_DIR ${PG_EXTRA_OPTS:-}" \
            start >/dev/null 2>&1; then
            export PGHOST=$PG_DIR PGPORT=$port PGUSER=warden PGDATABASE=postgres
            export PG_CONNINFO="host=127.0.0.1 port=$port user=warden dbname=postgres"
            export PATH="$bin:$PATH"
            PG_BIN=$bin
            return 0
        fi
    done
    echo "pg.sh: the server did not start:" >&2
    cat "$PG_DIR/server.log" >&2
    return 1
}

pg_stop() {
    [ -n "${PG_DIR:-}" ] || return 0
    if [ -f "$PG_DIR/data/postmaster.pid" ]; then
        pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
    fi
    rm -rf "$PG_DIR"
    PG_DIR=
}
