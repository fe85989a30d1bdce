#!/usr/bin/env bash
# PostgreSQL with two API workers: docs/deploy.md section 2 quotes every command of this
# script, and tests/deploy/ runs it. Needs tansiq, taxii2-client (for the check at the
# end), curl and the PostgreSQL client programs (psql, createdb) on the PATH, and the
# libpq variables PGHOST, PGPORT, PGUSER (PGPASSWORD) naming a PostgreSQL superuser.
set -euo pipefail

DB_NAME=${DB_NAME:-tansiq}  # the database, and the role that owns it
DB_USER=${DB_USER:-tansiq}
PORT=${PORT:-8000}
DB_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
psql -v ON_ERROR_STOP=1 -q -c "CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD'"
createdb --owner="$DB_USER" "$DB_NAME"
export TANSIQ_DATABASE="postgresql://$DB_USER:$DB_PASSWORD@${PGHOST:-localhost}:${PGPORT:-5432}/$DB_NAME"

tansiq init
tansiq org add "CERT Alpha"
ALICE_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
export ALICE_PASSWORD
tansiq user add alice --org "CERT Alpha" --role analyst --password-stdin <<< "$ALICE_PASSWORD"
tansiq collection add "Shared intel" --alias shared --read "CERT Alpha" --write "CERT Alpha"

tansiq serve --port "$PORT" --workers 2 >> serve.log 2>&1 &
SERVER=$!
trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT  # stop the server(s) when this shell exits
for _ in $(seq 60); do
    curl -fs -o /dev/null "http://127.0.0.1:$PORT/openapi.json" && break
    sleep 0.5
done

export TAXII_URL="http://127.0.0.1:$PORT/taxii2/"
python3 - <<'PY'
import os, uuid
from datetime import datetime, timezone
from taxii2client.v21 import Server

server = Server(os.environ["TAXII_URL"], user="alice", password=os.environ["ALICE_PASSWORD"])
collection = next(c for c in server.default.collections if c.title == "Shared intel")
now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
indicator = {
    "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
    "created": now, "modified": now, "valid_from": now, "name": "C2 server",
    "pattern": "[ipv4-addr:value = '203.0.113.50']", "pattern_type": "stix",
    "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
}
status = collection.add_objects({"objects": [indicator]})
print(f"taxii2-client wrote {status.success_count} object(s), status {status.status}")
names = [o["name"] for o in collection.get_objects().get("objects", [])]
print(f"taxii2-client read back: {', '.join(names)}")
PY
