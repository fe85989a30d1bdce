#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suites (PostgreSQL 15 server binaries on
# the PATH: initdb, pg_ctl, postgres).
#
#   .ci/postgres.sh start DIR   initdb into DIR/data and start it on a free loopback port
#                               (socket in DIR, trust auth, no fsync); prints the URL to
#                               export as TANSIQ_TEST_PG_URL
#   .ci/postgres.sh stop DIR    stop that cluster (if running) and remove DIR
#
# initdb refuses to run as root: as root, the server runs as the 'postgres' user.
# Typical use (removes the cluster even when the tests fail):
#   pgdir=$(mktemp -d); trap '.ci/postgres.sh stop "$pgdir"' EXIT
#   TANSIQ_TEST_PG_URL=$(.ci/postgres.sh start "$pgdir") make test
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

as_server() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "$cmd" in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    if ! as_server initdb -D "$dir/data" --auth=trust --username=postgres --encoding=UTF8 \
        --no-locale --no-sync >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        exit 1
    fi
    for _ in 1 2 3 4 5; do  # a free port may be taken before the server binds it
        port=$(free_port)
        if as_server pg_ctl start -w -t 60 -D "$dir/data" -l "$dir/server.log" \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
            >/dev/null; then
            echo "postgresql://postgres@127.0.0.1:$port/postgres"
            exit 0
        fi
    done
    cat "$dir/server.log" >&2
    exit 1
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_server pg_ctl stop -D "$dir/data" -m immediate -w >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
*)
    usage
    ;;
esac
