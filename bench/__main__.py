"""Tansiq benchmark runner: Tansiq and its baselines, measured in the same run.

    python -m bench                      # full run (~30-40 min once the stores are cached)
    python -m bench --quick              # smoke run, small sizes, ~2 min
    python -m bench --only import        # or: --only taxii, --only access
    python -m bench --sizes import:25000,250000 taxii:10000,1000000
    python -m bench --only access --sizes access:1m audit:25000,250000
    python -m bench --only taxii --sizes 10000          # bare list: for the selected part(s)
    python -m bench --build-only         # generate bundles and build the cached stores, then exit
    python -m bench pg                   # PostgreSQL only (same as --only pg); pg:10k for a quick look
    python -m bench pg --sizes pg:10k,100k
    python -m bench federation           # federation (issue 5) only, its own options: --help

Prints a table (one row per measurement: value, baseline, ratio, target, met/missed) and
writes it, with the machine description and this command, to docs/performance.md (a
--quick run writes bench/.cache/performance-quick.md unless --out is given). Raw results go
to bench/.cache/results-latest.json. Generated bundles and the Tansiq stores for the TAXII
collections are cached in bench/.cache/, keyed by size, seed, generator version, build recipe
and schema. Parts: import, taxii, access (need-to-know: access filter and audit log costs),
pg (PostgreSQL, issue 4: import, TAXII pages, --workers 2 vs 1, memory; on a throwaway
cluster the run starts and removes; ~10 min more). A run of some parts keeps the other
parts' sections of the report: the pg part writes only its own section. The federation part
(bench/federation_bench.py: replication between two instances, ~10 min) runs only on its own
and likewise writes only its section.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from bench import (
    access_bench,
    federation_bench,
    federation_report,
    generate,
    import_bench,
    pg_bench,
    pg_cluster,
    pg_report,
    procs,
    report,
    tansiq_store,
    taxii_bench,
)
from bench.loadwatch import LoadWatch

DEFAULT_IMPORT = [25_000, 250_000]
DEFAULT_TAXII = [10_000, 1_000_000]
QUICK_IMPORT = [2_000, 10_000]
QUICK_TAXII = [2_000, 10_000]
DEFAULT_ACCESS = [1_000_000]  # access filter and audit on reads (issue 3)
QUICK_ACCESS = [10_000]
DEFAULT_AUDIT = [25_000, 250_000]  # audit on imports
QUICK_AUDIT = [25_000]
DEFAULT_PG = [10_000, 1_000_000]  # PostgreSQL (issue 4)
QUICK_PG = [2_000, 10_000]
PARTS = ["import", "taxii", "access", "pg"]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _ints(text: str) -> list[int]:
    out = []
    for part in text.replace("_", "").split(","):
        part = part.strip().lower()
        if not part:
            continue
        mult = 1
        if part.endswith("k"):
            mult, part = 1_000, part[:-1]
        elif part.endswith("m"):
            mult, part = 1_000_000, part[:-1]
        out.append(int(float(part) * mult))
    return sorted(set(out))


def parse_sizes(
    tokens: list[str] | None, only: str | list[str] | None
) -> dict[str, list[int] | None]:
    sizes: dict[str, list[int] | None] = {
        "import": None,
        "taxii": None,
        "access": None,
        "audit": None,
        "pg": None,
    }
    selected = [only] if isinstance(only, str) else only
    for tok in tokens or []:
        if ":" in tok:
            kind, _, rest = tok.partition(":")
            if kind not in sizes:
                raise SystemExit(
                    f"--sizes: unknown part {kind!r} (use import:, taxii:, access:, audit: or pg:)"
                )
            sizes[kind] = _ints(rest)
        else:
            for kind in selected or PARTS:
                sizes[kind] = _ints(tok)
    for kind, values in sizes.items():
        if values and min(values) < generate.MIN_SIZE:
            raise SystemExit(f"--sizes: {kind} sizes must be at least {generate.MIN_SIZE}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["federation"]:  # its own runner and options
        return federation_bench.main(given[1:])
    ap = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--quick", action="store_true", help="small sizes and short phases (smoke run, ~2 min)"
    )
    ap.add_argument(
        "parts",
        nargs="*",
        metavar="PART",
        help=f"parts to run ({', '.join(PARTS)}; default: all)",
    )
    ap.add_argument("--only", choices=PARTS, help="run one part only")
    ap.add_argument(
        "--sizes",
        nargs="+",
        metavar="[PART:]N,N",
        help="sizes, e.g. import:25000,250000 taxii:10k,1m access:1m audit:25k,250k",
    )
    ap.add_argument(
        "--seed", type=int, default=generate.DEFAULT_SEED, help="corpus seed (default %(default)s)"
    )
    ap.add_argument(
        "--connections", type=int, help="concurrent connections for throughput (default 4)"
    )
    ap.add_argument("--no-medallion", action="store_true", help="skip the medallion baseline")
    ap.add_argument(
        "--no-medallion-probe",
        action="store_true",
        help="skip timing one medallion request at the TAXII small size",
    )
    ap.add_argument("--rebuild-stores", action="store_true", help="rebuild the cached TAXII stores")
    ap.add_argument(
        "--build-only",
        action="store_true",
        help="generate bundles and build cached stores, then exit",
    )
    ap.add_argument(
        "--out",
        type=Path,
        help="markdown report path (default docs/performance.md; quick: bench/.cache/performance-quick.md)",
    )
    args = ap.parse_args(argv)

    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        ap.error(f"unknown part {unknown[0]!r} (choose from {', '.join(PARTS)})")
    parts = [p for p in PARTS if p in args.parts or p == args.only] or PARTS
    sizes = parse_sizes(args.sizes, parts if parts != PARTS else None)
    import_sizes = sizes["import"] or (QUICK_IMPORT if args.quick else DEFAULT_IMPORT)
    taxii_sizes = sizes["taxii"] or (QUICK_TAXII if args.quick else DEFAULT_TAXII)
    access_sizes = sizes["access"] or (QUICK_ACCESS if args.quick else DEFAULT_ACCESS)
    audit_sizes = sizes["audit"] or (QUICK_AUDIT if args.quick else DEFAULT_AUDIT)
    pg_sizes = sizes["pg"] or (QUICK_PG if args.quick else DEFAULT_PG)
    if "pg" in parts and (why := pg_cluster.unavailable()):
        log(f"skipping the pg part: {why}")
        parts = [p for p in parts if p != "pg"]
        if not parts:
            return 1
    command = shlex.join(["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)])
    out_path = args.out or (
        generate.CACHE_DIR / "performance-quick.md"
        if args.quick
        else procs.ROOT / "docs" / "performance.md"
    )
    work = generate.CACHE_DIR / "run"
    work.mkdir(parents=True, exist_ok=True)

    ib = import_bench.Budget.quick() if args.quick else import_bench.Budget.full()
    tb = taxii_bench.Budget.quick() if args.quick else taxii_bench.Budget.full()
    ab = access_bench.Budget.quick() if args.quick else access_bench.Budget.full()
    pb = pg_bench.Budget.quick() if args.quick else pg_bench.Budget.full()
    if args.connections:
        tb.connections = args.connections
        ab.connections = args.connections
    if args.no_medallion_probe:
        tb.medallion_probe = 0
    if tb.medallion_probe:
        tb.medallion_probe = min(taxii_sizes)

    # One-time preparation (not part of the run's time): bundles and cached stores.
    t_prep = time.perf_counter()
    log(f"preparing corpora in {generate.CACHE_DIR}")
    if "import" in parts:
        for s in import_sizes:
            generate.ensure_bundle(s, args.seed, log=log)
    if "taxii" in parts:
        for s in taxii_sizes:
            tansiq_store.cached_store(s, args.seed, rebuild=args.rebuild_stores, log=log)
    if "access" in parts:
        for s in audit_sizes:
            generate.ensure_bundle(s, args.seed, log=log)
        for s in access_sizes:
            rebuild = args.rebuild_stores and not ("taxii" in parts and s in taxii_sizes)
            tansiq_store.cached_store(s, args.seed, rebuild=rebuild, log=log)
    if "pg" in parts:
        for s in pg_sizes:
            generate.ensure_bundle(s, args.seed, log=log)
    prep_seconds = time.perf_counter() - t_prep
    if args.build_only:
        log(f"prepared in {prep_seconds:.0f}s")
        return 0

    results: dict[str, Any] = {
        "command": command,
        "quick": args.quick,
        "seed": args.seed,
        "machine": report.machine(),
        "started": report.now(),
        "preparation_seconds": round(prep_seconds, 1),
    }
    load = LoadWatch()
    t0 = time.perf_counter()
    if "import" in parts:
        results["import"] = import_bench.run(import_sizes, args.seed, ib, work, log)
    if "taxii" in parts:
        results["taxii"] = taxii_bench.run(
            taxii_sizes, args.seed, tb, work, log, medallion_enabled=not args.no_medallion
        )
    if "access" in parts:
        results["access"] = access_bench.run(access_sizes, audit_sizes, args.seed, ab, work, log)
    if "pg" in parts:
        pg_load, pg_t0, pg_started = LoadWatch(), time.perf_counter(), report.now()
        results["pg"] = pg_bench.run(pg_sizes, args.seed, pb, work, log) | {
            "started": pg_started,
            "finished": report.now(),
            "elapsed_minutes": (time.perf_counter() - pg_t0) / 60,
            "load": pg_load.stop(),
        }
    results["load"] = load.stop()
    results["finished"] = report.now()
    results["elapsed_minutes"] = (time.perf_counter() - t0) / 60
    results["store_build_note"] = prep_seconds > 60

    rows = (
        report.import_rows(results.get("import", {}))
        + report.taxii_rows(results.get("taxii", {}))
        + report.access_rows(results.get("access", {}))
    )
    pg_rows = pg_report.rows(results["pg"]) if "pg" in results else []
    print()
    print(report.console_table(rows + pg_rows))
    print()
    for line in report.missed_notes(rows + pg_rows):
        print(line)

    raw = generate.CACHE_DIR / "results-latest.json"
    raw.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2, default=str))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pg_block = pg_report.section(results, pg_rows, command) if "pg" in results else None
    if parts == ["pg"] and pg_block:  # only the PostgreSQL section changes
        pg_report.write_section(out_path, pg_block)
    else:
        md = report.markdown(results, rows, command, report.existing_analysis(out_path))
        md = pg_report.splice(md, pg_block) if pg_block else pg_report.keep_section(md, out_path)
        md = federation_report.keep_section(md, out_path)
        out_path.write_text(md)
    log(
        f"wrote {out_path} and {raw} ({results['elapsed_minutes']:.1f} min, preparation {prep_seconds:.0f}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
