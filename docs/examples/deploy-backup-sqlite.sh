#!/usr/bin/env bash
# Backup and restore of an embedded (SQLite) instance: docs/deploy.md section 4 quotes
# every command of this script; it continues deploy-sqlite.sh in the same shell
# (DB, DATA_DIR, PORT, SERVER, ALICE_PASSWORD, URL and TAXII come from there), and
# tests/deploy/ runs both in one shell.
set -euo pipefail

BACKUP_DIR=${BACKUP_DIR:-/var/backups/tansiq}
mkdir -p "$BACKUP_DIR"
BACKUP="$BACKUP_DIR/tansiq-$(date -u +%Y%m%dT%H%M%SZ).db"
tansiq --database "$DB" db backup --to "$BACKUP"

kill "$SERVER"
wait "$SERVER" || true
for suffix in "" -wal -shm; do
    if [ -e "$DB$suffix" ]; then mv "$DB$suffix" "$DB.before-restore$suffix"; fi
done
cp "$BACKUP" "$DB"
tansiq --database "$DB" init
tansiq --database "$DB" audit verify

tansiq --database "$DB" serve --port "$PORT" --workers 2 >> "$DATA_DIR/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 60); do
    curl -fs -o /dev/null "http://127.0.0.1:$PORT/openapi.json" && break
    sleep 0.5
done
curl -fsS -u "alice:$ALICE_PASSWORD" -H "Accept: $TAXII" "$URL"
echo
