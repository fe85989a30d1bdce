#!/usr/bin/env bash
# Several API hosts behind a load balancer: docs/deploy.md section 3 quotes every command
# of this script. It continues deploy-postgres.sh in the same shell (TANSIQ_DATABASE and
# ALICE_PASSWORD come from there) and starts two more API servers on this machine, on
# ports PORT_A and PORT_B, standing for two hosts; the check at the end goes through the
# load balancer at PUBLIC_URL. tests/deploy/ runs both with a round-robin proxy.
set -euo pipefail

PUBLIC_URL=${PUBLIC_URL:-https://taxii.example.org}  # the load balancer, as clients see it
LISTEN=${LISTEN:-0.0.0.0}
PORT_A=${PORT_A:-8001}
PORT_B=${PORT_B:-8002}
export TANSIQ_PUBLIC_URL="$PUBLIC_URL"

tansiq serve --host "$LISTEN" --port "$PORT_A" --workers 2 >> serve-a.log 2>&1 &
tansiq serve --host "$LISTEN" --port "$PORT_B" --workers 2 >> serve-b.log 2>&1 &
for port in "$PORT_A" "$PORT_B"; do
    for _ in $(seq 60); do
        curl -fs -o /dev/null "http://127.0.0.1:$port/openapi.json" && break
        sleep 0.5
    done
done

python3 - <<'PY'
import os, uuid
from datetime import datetime, timezone
from taxii2client.v21 import Server, as_pages

server = Server(os.environ["TANSIQ_PUBLIC_URL"] + "/taxii2/",
                user="alice", password=os.environ["ALICE_PASSWORD"])
print("API roots:", ", ".join(root.url for root in server.api_roots))
collection = next(c for c in server.default.collections if c.title == "Shared intel")
now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
for n in range(5):
    indicator = {
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
        "created": now, "modified": now, "valid_from": now, "name": f"scanner {n}",
        "pattern": f"[ipv4-addr:value = '198.51.100.{n}']", "pattern_type": "stix",
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    }
    collection.add_objects({"objects": [indicator]})
pages = list(as_pages(collection.get_objects, per_request=2))
seen = [o["id"] for page in pages for o in page.get("objects", [])]
print(f"read {len(seen)} objects ({len(set(seen))} distinct) in {len(pages)} pages of 2")
PY
