#!/usr/bin/env bash
# Two agencies federate their Tansiq instances and share one collection both ways:
# the Moroccan service (instance "rabat") and the US service (instance "washington").
# Run from an empty directory with tansiq on the PATH:  bash federation.sh
# (RABAT_PORT / WASHINGTON_PORT if 8001 / 8002 are taken.)
# docs/federation.md walks through it; tests/docs/ runs it.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
RABAT_PORT="${RABAT_PORT:-8001}"
WASHINGTON_PORT="${WASHINGTON_PORT:-8002}"
token() { python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'; }
json_id() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }
labels() { python3 -c '
import json, sys
rank = {"CLEAR": 0, "GREEN": 1, "AMBER": 2, "RED": 3}
bundle = json.load(sys.stdin)
names = {o["name"].split(":")[0] for o in bundle.get("objects", []) if o["type"] == "indicator"}
print(" ".join(sorted(names, key=lambda n: (n[:2], rank[n.split("-")[1]], n))) or "(nothing)")'; }
wait_for() { for _ in $(seq 50); do curl -s -o /dev/null "$1" && return; sleep 0.2; done; }
SERVERS=()
trap 'kill "${SERVERS[@]}" 2>/dev/null || true' EXIT

# 1. Rabat: the Moroccan service's instance ----------------------------------------
export TANSIQ_DATABASE="$PWD/rabat.db"
tansiq init
tansiq org add "Moroccan Service"
tansiq org add "US Service"                  # stands for the US partner on this instance
tansiq user add amina --org "Moroccan Service" --role analyst
FOR_WASHINGTON=$(tansiq user add sync-washington --org "US Service" --role sync --json | token)
tansiq collection add "Sahel joint cell" --alias joint \
    --read "Moroccan Service" --write "Moroccan Service" \
    --read "US Service" --write "US Service"
tansiq import "$HERE/federation-rabat.json" --collection joint --user amina

# 2. Washington: the US service's instance -----------------------------------------
export TANSIQ_DATABASE="$PWD/washington.db"
tansiq init
tansiq org add "US Service"
tansiq org add "Moroccan Service"            # stands for the Moroccan partner here
tansiq org add "Spanish Service"             # a third partner of Washington only
GRACE=$(tansiq user add grace --org "US Service" --role analyst --json | token)
FOR_RABAT=$(tansiq user add sync-rabat --org "Moroccan Service" --role sync --json | token)
tansiq user add sync-madrid --org "Spanish Service" --role sync
JOINT=$(tansiq collection add "Sahel joint cell" --alias joint \
    --read "US Service" --write "US Service" \
    --read "Moroccan Service" --write "Moroccan Service" \
    --read "Spanish Service" --json | json_id)
tansiq import "$HERE/federation-washington.json" --collection joint --user grace
tansiq serve --port "$WASHINGTON_PORT" > washington.log 2>&1 &
SERVERS+=($!)
wait_for "http://127.0.0.1:$WASHINGTON_PORT/taxii2/"

# 3. Rabat connects to Washington with the token Washington gave it ----------------
export TANSIQ_DATABASE="$PWD/rabat.db"
tansiq peer add washington --url "http://127.0.0.1:$WASHINGTON_PORT/taxii2/" \
    --org "US Service" --token-stdin <<< "$FOR_RABAT"
tansiq peer check washington
tansiq peer map washington --pull joint:joint --push joint:joint
tansiq sync washington --once
tansiq peer status washington
tansiq serve --port "$RABAT_PORT" > rabat.log 2>&1 &
SERVERS+=($!)
wait_for "http://127.0.0.1:$RABAT_PORT/taxii2/"

# 4. Washington connects to Rabat; its scheduler (in tansiq serve) syncs every 10 s -
export TANSIQ_DATABASE="$PWD/washington.db"
tansiq peer add rabat --url "http://127.0.0.1:$RABAT_PORT/taxii2/" \
    --org "Moroccan Service" --interval 10 --token-stdin <<< "$FOR_WASHINGTON"
tansiq peer check rabat
tansiq peer map rabat --pull joint:joint --push joint:joint

# 5. New intelligence on both sides; nobody runs tansiq sync: the scheduler does ---
tansiq --database "$PWD/rabat.db" import "$HERE/federation-rabat-later.json" \
    --collection joint --user amina
tansiq --database "$PWD/washington.db" import "$HERE/federation-washington-later.json" \
    --collection joint --user grace
for _ in $(seq 90); do
    AT_RABAT=$(tansiq --database "$PWD/rabat.db" export --collection joint | labels)
    AT_WASHINGTON=$(tansiq --database "$PWD/washington.db" export --collection joint | labels)
    [[ $AT_RABAT == *US-GREEN-2* && $AT_WASHINGTON == *MA-GREEN-2* ]] && break
    sleep 1
done
tansiq peer status rabat

# 6. Forget the cursors and sync everything again: nothing is stored twice ----------
tansiq --database "$PWD/rabat.db" peer reset washington
tansiq --database "$PWD/rabat.db" sync washington --once

# 7. What each side sees, and what would travel on ---------------------------------
TAXII='application/taxii+json;version=2.1'
echo "amina sees in Rabat:       $(tansiq --database "$PWD/rabat.db" export --collection joint \
    --user amina | labels)"
echo "grace sees in Washington:  $(curl -s -H "Accept: $TAXII" -H "Authorization: Bearer $GRACE" \
    "http://127.0.0.1:$WASHINGTON_PORT/default/collections/$JOINT/objects/" | labels)"
echo "Washington offers Madrid:  $(tansiq --database "$PWD/washington.db" export --collection joint \
    --user sync-madrid | labels)"
