"""Import throughput: Tansiq against stix2.parse, stix2-validator and the SQLite floor.

Every measurement runs in a fresh process (bench/workers.py) on the same cached bundle:

* Tansiq: ``tansiq.ingest.bundle.import_file`` with full validation into a new embedded
  SQLite store set up with the CLI; objects/s over the call, peak RSS of the process;
* stix2: ``stix2.parse(obj, allow_custom=True)`` per object, on an evenly strided sample
  (the whole file up to ``stix2_sample`` objects); file reading is not timed;
* stix2-validator: ``validate_instance`` per object on a strided sample; not timed either;
* floor: orjson parse of the whole file + ``executemany`` of (id, type, modified, json)
  rows into an unindexed table, in one transaction, same journal settings as Tansiq.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import generate, procs, tansiq_store


@dataclass
class Budget:
    repeats_small: int  # repeats of the Tansiq and floor imports for sizes <= 50,000
    stix2_sample: int
    validator_sample: int

    @classmethod
    def full(cls) -> Budget:
        return cls(3, 25_000, 2_000)

    @classmethod
    def quick(cls) -> Budget:
        return cls(1, 3_000, 300)


def _worker(*args: str) -> procs.Finished:
    return procs.run(procs.python_module("bench.workers", *args), timeout=3 * 3600)


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    rates = [r["objects"] / r["seconds"] for r in runs]
    med = statistics.median(rates)
    best = min(runs, key=lambda r: abs(r["objects"] / r["seconds"] - med))
    return best | {
        "rate": med,
        "rates": [round(x) for x in rates],
        "peak_rss": max(r["peak_rss"] for r in runs),
    }


def tansiq_import(bundle: Path, work: Path, repeats: int, log: Any) -> dict[str, Any]:
    runs = []
    for i in range(repeats):
        db = work / "import" / "tansiq.db"
        setup = tansiq_store.fresh(db)
        done = _worker("tansiq", setup.database, setup.alias, setup.user, str(bundle))
        r = done.json() | {"peak_rss": done.peak_rss, "process_seconds": round(done.seconds, 3)}
        log(
            f"    Tansiq run {i + 1}/{repeats}: {r['objects'] / r['seconds']:,.0f} objects/s, peak RSS {done.peak_rss / procs.MB:.0f} MB"
        )
        runs.append(r)
    for suffix in ("", "-wal", "-shm"):
        Path(str(work / "import" / "tansiq.db") + suffix).unlink(missing_ok=True)
    return _median_run(runs)


def floor_import(bundle: Path, work: Path, repeats: int, log: Any) -> dict[str, Any]:
    runs = []
    for _ in range(repeats):
        db = work / "import" / "floor.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        db.parent.mkdir(parents=True, exist_ok=True)
        done = _worker("floor", str(bundle), str(db))
        runs.append(done.json() | {"peak_rss": done.peak_rss})
    for suffix in ("", "-wal", "-shm"):
        Path(str(work / "import" / "floor.db") + suffix).unlink(missing_ok=True)
    r = _median_run(runs)
    log(f"    floor: {r['rate']:,.0f} objects/s")
    return r


def sampled(kind: str, bundle: Path, sample: int, log: Any) -> dict[str, Any]:
    done = _worker(kind, str(bundle), str(sample))
    r = done.json() | {"peak_rss": done.peak_rss}
    r["rate"] = r["objects"] / r["seconds"]
    log(
        f"    {kind}: {r['rate']:,.0f} objects/s on {r['objects']:,} of {r['file_objects']:,} objects"
    )
    return r


def run(sizes: list[int], seed: int, b: Budget, work: Path, log: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"budget": b.__dict__, "sizes": {}}
    for size in sizes:
        bundle = generate.ensure_bundle(size, seed, log=log)
        log(f"Import: {size:,} objects ({bundle.stat().st_size / procs.MB:.0f} MB bundle)")
        repeats = b.repeats_small if size <= 50_000 else 1
        res: dict[str, Any] = {
            "bundle": bundle.name,
            "bundle_bytes": bundle.stat().st_size,
            "types": generate.type_counts(size, seed),
        }
        res["tansiq"] = tansiq_import(bundle, work, repeats, log)
        res["floor"] = floor_import(bundle, work, repeats, log)
        res["stix2"] = sampled("stix2", bundle, min(size, b.stix2_sample), log)
        res["validator"] = sampled("validator", bundle, min(size, b.validator_sample), log)
        out["sizes"][str(size)] = res
    return out
