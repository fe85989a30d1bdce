#!/usr/bin/env bash
# Two organisations sharing one collection, with GREEN, AMBER and RED objects.
# Run from an empty directory with tansiq on the PATH:  bash two-organisations.sh
# (docs/access.md walks through it; tests/docs/ runs it.)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PORT="${PORT:-8000}"
export TANSIQ_DATABASE="$PWD/sharing.db"
token() { python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'; }

tansiq init
tansiq org add "CERT Alpha"
tansiq org add "Police Beta"
tansiq org add "Outsider"
ALICE=$(tansiq user add alice --org "CERT Alpha" --role analyst --json | token)
BOB=$(tansiq user add bob --org "Police Beta" --role reader --json | token)
OLGA=$(tansiq user add olga --org "Outsider" --role reader --json | token)
COLL=$(tansiq collection add "Joint operations" --alias joint \
    --read "CERT Alpha" --read "Police Beta" --write "CERT Alpha" --public --json \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')

tansiq serve --port "$PORT" > serve.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/taxii2/" && break; sleep 0.2; done

TAXII='application/taxii+json;version=2.1'
URL="http://127.0.0.1:$PORT/default/collections/$COLL"
# alice posts a GREEN, an AMBER and a RED indicator (the RED one names only her)
curl -s -H "Accept: $TAXII" -H "Content-Type: $TAXII" -H "Authorization: Bearer $ALICE" \
    --data-binary @"$HERE/sharing-indicators.json" "$URL/objects/" > /dev/null

names() { python3 -c 'import json, sys; print(", ".join(o["name"] for o in json.load(sys.stdin).get("objects", [])) or "(nothing)")'; }
echo "alice sees: $(curl -s -H "Accept: $TAXII" -H "Authorization: Bearer $ALICE" "$URL/objects/" | names)"
echo "bob sees:   $(curl -s -H "Accept: $TAXII" -H "Authorization: Bearer $BOB" "$URL/objects/" | names)"
echo "olga sees:  $(curl -s -H "Accept: $TAXII" -H "Authorization: Bearer $OLGA" "$URL/objects/" | names)"
echo "anonymous:  $(curl -s -H "Accept: $TAXII" "$URL/objects/" | names)"
echo "bob asks for the RED indicator: HTTP $(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $TAXII" \
    -H "Authorization: Bearer $BOB" "$URL/objects/indicator--0c3a1b62-9a34-4c51-8d0e-2f3f9a7b1a03/")"
sleep 1.5  # reads reach the audit log within about a second
tansiq audit verify
