#!/usr/bin/env bash
# A private PostgreSQL cluster on 127.0.0.1 for the KPI store's tests (no systemd needed).
#
#   bash .ci/postgres.sh start   # installs Debian's postgresql when missing (as root), runs
#                                # initdb into a temporary directory and pg_ctl start on a free
#                                # port, creates the database, then prints
#                                #   export HARNESS_TEST_POSTGRES_URL=postgresql+psycopg://...
#                                # for `eval "$(bash .ci/postgres.sh start)"`
#   bash .ci/postgres.sh stop    # stops it and removes its directory
#
# As root the server runs as the postgres user (PostgreSQL refuses to run as root). State lives
# in $HARNESS_PG_DIR (default /tmp/harness-pg). Progress goes to stderr, only the export line
# to stdout.
set -euo pipefail

DIR="${HARNESS_PG_DIR:-/tmp/harness-pg}"
DB="${HARNESS_PG_DB:-harness_kpi}"

log() { echo "postgres.sh: $*" >&2; }

pg_bin() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$found" ] && command -v pg_ctl >/dev/null 2>&1; then
        found=$(dirname "$(command -v pg_ctl)")
    fi
    echo "$found"
}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

install() {
    if [ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ]; then
        return
    fi
    if [ "$(id -u)" -ne 0 ]; then
        log "PostgreSQL is not installed; as root: apt-get install postgresql"
        exit 1
    fi
    log "installing postgresql (apt-get)"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    install
    local bin port
    bin=$(pg_bin)
    if [ -f "$DIR/port" ] && as_owner "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
        port=$(cat "$DIR/port")
        log "already running on port $port"
    else
        rm -rf "$DIR"
        mkdir -p "$DIR/socket"
        port=$(free_port)
        echo "$port" > "$DIR/port"
        if [ "$(id -u)" -eq 0 ]; then
            chown -R postgres:postgres "$DIR"
        fi
        as_owner "$bin/initdb" -D "$DIR/data" -A trust -U postgres --no-sync >/dev/null
        as_owner "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
            -o "-p $port -k $DIR/socket -c listen_addresses=127.0.0.1 -c fsync=off" start >&2
        as_owner "$bin/createdb" -h "$DIR/socket" -p "$port" -U postgres "$DB"
        log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, database $DB"
    fi
    echo "export HARNESS_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$port/$DB"
}

stop() {
    local bin
    bin=$(pg_bin)
    if [ -n "$bin" ] && [ -d "$DIR/data" ]; then
        as_owner "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >&2 || true
    fi
    rm -rf "$DIR"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    install) install ;;
    *) echo "usage: $0 start|stop|install" >&2; exit 2 ;;
esac
