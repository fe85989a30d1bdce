#!/usr/bin/env bash
# Backup and restore of a PostgreSQL instance with pg_dump and pg_restore: docs/deploy.md
# section 4 quotes every command of this script. It continues deploy-postgres.sh in the
# same shell (TANSIQ_DATABASE, DB_NAME, DB_USER, DB_PASSWORD, PORT, SERVER and
# ALICE_PASSWORD come from there); tests/deploy/ runs both in one shell.
set -euo pipefail

BACKUP_DIR=${BACKUP_DIR:-/var/backups/tansiq}
mkdir -p "$BACKUP_DIR"
DUMP="$BACKUP_DIR/tansiq-$(date -u +%Y%m%dT%H%M%SZ).dump"
pg_dump --format=custom --file="$DUMP" "$TANSIQ_DATABASE"

createdb --owner="$DB_USER" "${DB_NAME}_restored"
RESTORED="postgresql://$DB_USER:$DB_PASSWORD@${PGHOST:-localhost}:${PGPORT:-5432}/${DB_NAME}_restored"
pg_restore --no-owner --exit-on-error --dbname="$RESTORED" "$DUMP"
tansiq --database "$RESTORED" audit verify

kill "$SERVER"
wait "$SERVER" || true
psql -v ON_ERROR_STOP=1 -q -c "ALTER DATABASE $DB_NAME RENAME TO ${DB_NAME}_before_restore" \
    -c "ALTER DATABASE ${DB_NAME}_restored RENAME TO $DB_NAME"
tansiq init
tansiq audit verify

tansiq serve --port "$PORT" --workers 2 >> serve.log 2>&1 &
SERVER=$!
for _ in $(seq 60); do
    curl -fs -o /dev/null "http://127.0.0.1:$PORT/openapi.json" && break
    sleep 0.5
done
curl -fsS -u "alice:$ALICE_PASSWORD" -H "Accept: application/taxii+json;version=2.1" \
    "http://127.0.0.1:$PORT/default/collections/"
echo
