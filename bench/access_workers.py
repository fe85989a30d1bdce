"""Library-level measurements of the access part, each run in its own process.

    python -m bench.access_workers query DB SPEC_JSON
    python -m bench.access_workers import DB COLLECTION USER FILE on|off

``query``: ``store.query`` for one page (limit=100: the first page, ``types=("indicator",)``
and deep pages at the keyset positions of the spec) with ``Query(access=None)`` and with the
Access of each caller of the spec, as :func:`tansiq.access.policy.access_for` builds it for
the TAXII server. The variants are interleaved (one query of each per round, the order
rotating) so that other work on the machine slows them alike.

``import``: ``tansiq.ingest.bundle.import_file`` with the options the CLI import builds
(writer context, the writer's Access, an audit event), or the same options with
``audit=None``. Prints one JSON line last, like bench/workers.py.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import orjson

LIMIT = 100
SCENARIOS = ("first", "type", "deep")


def _emit(result: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def query(db: str, spec_json: str) -> None:
    from tansiq.access import admin
    from tansiq.access.policy import access_for, default_tlp
    from tansiq.storage import open_store
    from tansiq.storage.base import Query

    spec = orjson.loads(spec_json)
    store = open_store(db, create=False)
    coll = admin.require_collection(store, spec["collection"])
    default = default_tlp(store)
    accesses: dict[str, Any] = {"unfiltered": None}
    for kind, name in spec["users"].items():
        accesses[kind] = access_for(admin.principal(store, name), coll, default)
    positions = [(str(d), int(s)) for d, s in spec["positions"]] or [None]
    variants = list(accesses)

    def make(scenario: str, access: Any, i: int) -> Query:
        if scenario == "type":
            return Query(collection_id=coll.id, limit=LIMIT, types=("indicator",), access=access)
        if scenario == "deep":
            return Query(
                collection_id=coll.id,
                limit=LIMIT,
                after=positions[i % len(positions)],
                access=access,
            )
        return Query(collection_id=coll.id, limit=LIMIT, access=access)

    out: dict[str, Any] = {"access": {k: repr(v) for k, v in accesses.items()}, "scenarios": {}}
    clock = time.perf_counter
    for scenario in SCENARIOS:
        lat: dict[str, list[float]] = {v: [] for v in variants}
        rows: dict[str, list[int]] = {v: [] for v in variants}
        for i in range(spec["warmup"]):
            for v in variants:
                store.query(make(scenario, accesses[v], i))
        deadline = clock() + spec["seconds"]
        for i in range(spec["rounds"]):
            k = i % len(variants)
            for v in variants[k:] + variants[:k]:
                q = make(scenario, accesses[v], i)
                a = clock()
                page = store.query(q)
                lat[v].append(clock() - a)
                if i < len(positions):
                    rows[v].append(len(page.rows))
            if clock() > deadline:
                break
        res = {}
        for v in variants:
            s = sorted(lat[v])
            res[v] = {
                "count": len(s),
                "p50_ms": round(_pct(s, 50) * 1000, 4),
                "p99_ms": round(_pct(s, 99) * 1000, 4),
                "mean_ms": round(sum(s) / len(s) * 1000, 4) if s else None,
                "min_rows": min(rows[v]) if rows[v] else 0,
            }
        out["scenarios"][scenario] = res
    store.close()
    _emit(out)


def audit_import(db: str, collection: str, user: str, path: str, mode: str) -> None:
    from tansiq.access import admin
    from tansiq.access.audit import event
    from tansiq.access.policy import access_for, default_tlp, writer_context
    from tansiq.ingest.bundle import WriteOptions, import_file
    from tansiq.storage import open_store

    if mode not in ("on", "off"):
        sys.exit(__doc__)
    store = open_store(db, create=False)
    coll = admin.require_collection(store, collection)
    principal = admin.principal(store, user)
    options = WriteOptions(  # as `tansiq import` builds them (tansiq/cli/data.py)
        writer=writer_context(store, principal),
        access=access_for(principal, coll, default_tlp(store)),
        audit=event(principal, "objects.write", coll.id, via="cli-import")
        if mode == "on"
        else None,
    )
    t0 = time.perf_counter()
    report = import_file(store, coll.id, principal, path, options=options)
    seconds = time.perf_counter() - t0
    entries = 0
    detail_bytes = 0
    for row in store.iter_audit(collection_id=coll.id):
        if row.action == "objects.write":
            entries += 1
            detail_bytes += len(row.detail)
    store.close()
    stats = report.as_dict()
    failures = stats.pop("failures", [])
    _emit(
        {
            "objects": stats.pop("total", 0),
            "seconds": seconds,
            "audit": mode,
            "audit_entries": entries,
            "audit_detail_bytes": detail_bytes,
            **stats,
            "first_failures": failures[:5],
        }
    )


COMMANDS = {"query": query, "import": audit_import}


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[argv[0]](*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
