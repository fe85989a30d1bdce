"""Import measurements, each run in its own process by the runner.

A fresh process per measurement keeps them independent (no warm caches or heap left from
one to the next) and gives each its own peak RSS. Each prints one JSON line last:
``{"objects": N, "seconds": S, ...}`` where ``seconds`` covers only the measured work,
not interpreter start-up or imports.

    python -m bench.workers tansiq DB COLLECTION USER FILE
    python -m bench.workers floor FILE DB
    python -m bench.workers stix2 FILE SAMPLE
    python -m bench.workers validator FILE SAMPLE
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import orjson


def _emit(result: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()


def _sample(path: str, size: int) -> tuple[list[dict[str, Any]], int]:
    """A deterministic, evenly strided sample (so the type mix matches the whole file)."""
    objects = orjson.loads(Path(path).read_bytes())["objects"]
    total = len(objects)
    if size <= 0 or size >= total:
        return objects, total
    stride = total / size
    return [objects[int(i * stride)] for i in range(size)], total


def tansiq_import(db: str, collection: str, user: str, path: str) -> None:
    from tansiq.ingest.bundle import import_file
    from tansiq.storage import open_store

    store = open_store(db, create=False)
    try:
        from tansiq.access import admin

        coll = admin.require_collection(store, collection)
        principal = admin.principal(store, user)
    except (ImportError, AttributeError):  # older layouts: build the principal by hand
        from tansiq.storage.base import Principal

        coll = store.get_collection(collection)
        u = store.get_user(user)
        principal = Principal(user=u, org=store.get_org(u.org_id))
    t0 = time.perf_counter()
    report = import_file(store, coll.id, principal, path)
    seconds = time.perf_counter() - t0
    store.close()
    stats = report.as_dict() if hasattr(report, "as_dict") else {}
    failures = stats.pop("failures", [])
    _emit(
        {
            "objects": stats.get("total", 0),
            "seconds": seconds,
            **{k: v for k, v in stats.items() if k != "total"},
            "first_failures": failures[:5],
        }
    )


def floor(path: str, db: str) -> None:
    """orjson parse of the whole file + executemany of (id, type, modified, json) rows."""
    import sqlite3

    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")  # same durability settings as Tansiq's store
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE objects (id TEXT, type TEXT, modified TEXT, json BLOB)")
    t0 = time.perf_counter()
    objects = orjson.loads(Path(path).read_bytes())["objects"]
    dumps = orjson.dumps
    rows = [(o["id"], o["type"], o.get("modified") or o.get("created"), dumps(o)) for o in objects]
    con.execute("BEGIN")
    con.executemany("INSERT INTO objects VALUES (?, ?, ?, ?)", rows)
    con.execute("COMMIT")
    seconds = time.perf_counter() - t0
    con.close()
    _emit({"objects": len(rows), "seconds": seconds})


def stix2_parse(path: str, size: str) -> None:
    import stix2

    sample, total = _sample(path, int(size))
    parse = stix2.parse
    for obj in sample[:20]:  # warm-up: first-call set-up is not counted against stix2
        parse(obj, allow_custom=True)
    failed = 0
    t0 = time.perf_counter()
    for obj in sample:
        try:
            parse(obj, allow_custom=True)
        except Exception:
            failed += 1
    seconds = time.perf_counter() - t0
    _emit({"objects": len(sample), "seconds": seconds, "file_objects": total, "failed": failed})


def validator(path: str, size: str) -> None:
    from stix2validator import ValidationOptions, validate_instance

    sample, total = _sample(path, int(size))
    options = ValidationOptions(version="2.1")
    for obj in sample[:20]:  # warm-up: schema loading is not counted against the validator
        validate_instance(obj, options)
    invalid = 0
    t0 = time.perf_counter()
    for obj in sample:
        if not validate_instance(obj, options).is_valid:
            invalid += 1
    seconds = time.perf_counter() - t0
    _emit({"objects": len(sample), "seconds": seconds, "file_objects": total, "invalid": invalid})


COMMANDS = {"tansiq": tansiq_import, "floor": floor, "stix2": stix2_parse, "validator": validator}


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[argv[0]](*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
