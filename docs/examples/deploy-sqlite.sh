#!/usr/bin/env bash
# One machine, embedded SQLite: docs/deploy.md section 1 quotes every command of this
# script, and tests/deploy/ runs it. Needs tansiq and curl on the PATH.
set -euo pipefail

DATA_DIR=${DATA_DIR:-/srv/tansiq}  # the database: one file (plus -wal and -shm while open)
PORT=${PORT:-8000}
DB="$DATA_DIR/tansiq.db"
mkdir -p "$DATA_DIR"

tansiq --database "$DB" init
tansiq --database "$DB" org add "CERT Alpha"
ALICE_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
tansiq --database "$DB" user add alice --org "CERT Alpha" --role analyst \
    --password-stdin <<< "$ALICE_PASSWORD"
COLLECTION=$(tansiq --database "$DB" collection add "Shared intel" --alias shared \
    --read "CERT Alpha" --write "CERT Alpha" --json \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')

tansiq --database "$DB" serve --port "$PORT" --workers 2 >> "$DATA_DIR/serve.log" 2>&1 &
SERVER=$!
trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT  # stop the server(s) when this shell exits
for _ in $(seq 60); do
    curl -fs -o /dev/null "http://127.0.0.1:$PORT/openapi.json" && break
    sleep 0.5
done

TAXII='application/taxii+json;version=2.1'
URL="http://127.0.0.1:$PORT/default/collections/$COLLECTION/objects/"
curl -fsS -u "alice:$ALICE_PASSWORD" -H "Accept: $TAXII" -H "Content-Type: $TAXII" \
    --data-binary @- "$URL" <<'JSON'
{"objects": [{"type": "indicator", "spec_version": "2.1",
  "id": "indicator--5f0f3a4e-8d2b-4c55-9f0a-6b1de6a0c001",
  "created": "2026-11-02T09:00:00.000Z", "modified": "2026-11-02T09:00:00.000Z",
  "name": "C2 server", "pattern": "[ipv4-addr:value = '203.0.113.50']",
  "pattern_type": "stix", "valid_from": "2026-11-02T00:00:00Z",
  "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}]}
JSON
echo
curl -fsS -u "alice:$ALICE_PASSWORD" -H "Accept: $TAXII" "$URL"
echo
