"""The PostgreSQL part's rows and its section of docs/performance.md.

The section sits between two marker comments, just before the hand-written Analysis. A run
of the PostgreSQL part replaces only that section and leaves the rest of the file as it
was; a run of the other parts (which regenerates the whole file, bench/report.py) puts the
previous section back (:func:`keep_section`). So each half survives the other's runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import report
from bench.report import MB, Row, factor, mb, ms, n
from bench.sections import Section

BEGIN = (
    "<!-- BEGIN PostgreSQL section: written by `python -m bench pg` (bench/pg_report.py); "
    "runs of the other parts keep it as it is -->"
)
END = "<!-- END PostgreSQL section -->"

# Targets (issue 4), stated at 1,000,000 objects.
PG_BIG = 1_000_000
IMPORT_RATE = report.IMPORT_RATE  # objects/s with full validation
TAXII_P50_MS = 15  # page p50 on PostgreSQL
TAXII_SCALING = report.TAXII_SCALING  # p50 at the big size within 1.5x of the small one
WORKERS_RATIO = 1.5  # read throughput of --workers 2 over --workers 1
RSS_MB = 300  # per process at 1,000,000, as in the foundation issue (import and serving)

LABEL = report.SCENARIO_LABEL
LABELS = {"1": "--workers 1", "2": "--workers 2"}


def _stated(size: int) -> str:
    return "" if size >= PG_BIG else f" (stated at {n(PG_BIG)})"


def _workers(mem: list[dict[str, Any]], key: str) -> list[int]:
    return [p[key] for p in mem if p["role"] == "worker"]


def serving_rss(mem: list[dict[str, Any]]) -> tuple[int, int, list[int]]:
    """(sum of the workers' peak RSS, the supervisor's and others', each worker's)."""
    workers = _workers(mem, "peak_rss")
    rest = sum(p["peak_rss"] for p in mem if p["role"] != "worker")
    return sum(workers), rest, workers


def per_core(phases: list[dict[str, Any]]) -> float:
    """Requests per CPU-second spent by the server and PostgreSQL, pooled over phases."""
    cpu = sum(
        (p["cpu"]["cores"]["server"] + p["cpu"]["cores"]["postgres"]) * p["cpu"]["wall"]
        for p in phases
    )
    return sum(p["requests"] for p in phases) / cpu if cpu else 0.0


def machine_cores(phases: list[dict[str, Any]]) -> float:
    wall = sum(p["cpu"]["wall"] for p in phases)
    return (
        sum(p["cpu"]["cores"]["machine"] * p["cpu"]["wall"] for p in phases) / wall if wall else 0.0
    )


def rows(res: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    by_size = res.get("sizes", {})
    sizes = sorted(int(s) for s in by_size)
    if not sizes:
        return out
    big, small = sizes[-1], sizes[0]
    for size in sizes:
        r = by_size[str(size)]
        judged = size == big
        imp = r["import"]
        sq = r.get("sqlite", {})
        sec = f"PostgreSQL import {n(size)}"
        rate = imp["rate"]
        ok, by = report._at_least(rate, IMPORT_RATE) if judged else (None, "")
        sq_rate = sq.get("import", {}).get("rate")
        bad = imp.get("invalid", 0) + imp.get("conflicts", 0)
        out.append(
            Row(sec, "Tansiq import (full validation, PostgreSQL)", f"{n(rate)} obj/s",
                f"SQLite {n(sq_rate)} obj/s (same run)" if sq_rate else "—",
                f"PG/SQLite {rate / sq_rate:.2f}x" if sq_rate else "—",
                f"≥ {n(IMPORT_RATE)} obj/s{_stated(size)}" if judged else f"(≥ {n(IMPORT_RATE)} obj/s at {n(PG_BIG)})",
                ok, by, f"{imp['objects']:,} objects; {imp.get('added', '?')} added, {bad} rejected")
        )  # fmt: skip
        w, rd = imp["writer_peak_rss"], imp["reader_peak_rss"]
        if judged:
            ok, by = report._at_most(max(w, rd) / MB, RSS_MB)
        else:
            ok, by = None, ""
        out.append(
            Row(sec, "import peak RSS: writing process / validating (reader) process", f"{mb(w)} / {mb(rd)}",
                f"SQLite {mb(sq['import']['writer_peak_rss'])} / {mb(sq['import']['reader_peak_rss'])}" if sq.get("import") else "—",
                target=f"≤ {RSS_MB} MB each{_stated(size)}" if judged else "—", ok=ok, missed_by=by)
        )  # fmt: skip
        sec = f"PostgreSQL TAXII {n(size)}"
        sq_tx = sq.get("taxii", {}).get("scenarios", {})
        for sc in ("first", "type", "deep"):
            x = r["taxii"]["scenarios"].get(sc)
            if not x:
                continue
            seq = x["seq"]
            ok, by = report._at_most(seq["p50_ms"], TAXII_P50_MS) if judged else (None, "")
            base = sq_tx.get(sc, {}).get("seq")
            out.append(
                Row(sec, f"{LABEL[sc]}: latency, 1 connection, serve --workers 1", report._p(seq),
                    f"SQLite p50 {ms(base['p50_ms'])} (same run)" if base else "—",
                    f"PG/SQLite {seq['p50_ms'] / base['p50_ms']:.1f}x" if base else "—",
                    f"p50 ≤ {TAXII_P50_MS} ms{_stated(size)}" if judged else "—", ok, by)
            )  # fmt: skip
        tp = r.get("throughput")
        if tp:
            w1, w2 = tp["workers"]["1"], tp["workers"]["2"]
            ratio = w2["rps"] / w1["rps"] if w1["rps"] else float("nan")
            ok, by = report._at_least(ratio, WORKERS_RATIO)
            out.append(
                Row(sec, f"read throughput, serve --workers 2 vs --workers 1 (mixed pages, {tp['connections']} connections)",
                    f"{n(w2['rps'])} req/s (p50 {ms(w2['p50_ms'])})", f"1 worker {n(w1['rps'])} req/s (p50 {ms(w1['p50_ms'])})",
                    f"{factor(ratio)}", f"≥ {WORKERS_RATIO}x", ok, by,
                    f"rounds: 2 workers {w2['rounds_rps']}, 1 worker {w1['rounds_rps']} req/s")
            )  # fmt: skip
            e1, e2 = per_core(w1["phases"]), per_core(w2["phases"])
            c1, c2 = machine_cores(w1["phases"]), machine_cores(w2["phases"])
            out.append(
                Row(sec, "requests per CPU-second of server + PostgreSQL, --workers 2 vs --workers 1",
                    f"{n(e2)} req/CPU-s (machine {c2:.2f} of {res.get('ncpu', '?')} cores busy)",
                    f"1 worker {n(e1)} req/CPU-s (machine {c1:.2f} cores busy)", f"{e2 / e1:.2f}x" if e1 else "—")
            )  # fmt: skip
        dbs = r.get("deep_by_server")
        if dbs and "2" in dbs and "1" in dbs:
            out.append(
                Row(sec, "deep pages via next, 1 connection: --workers 2 vs --workers 1", f"p50 {ms(dbs['2']['p50_ms'])} · p99 {ms(dbs['2']['p99_ms'])}",
                    f"--workers 1 p50 {ms(dbs['1']['p50_ms'])}", factor(dbs["2"]["p50_ms"] / dbs["1"]["p50_ms"]),
                    "—")
            )  # fmt: skip
        mem = r.get("serving_memory")
        if mem:
            for workers in ("1", "2"):
                total, rest, each = serving_rss(mem[workers])
                if judged:
                    ok, by = report._at_most(max(each) / MB, RSS_MB)
                else:
                    ok, by = None, ""
                what = (
                    "serving peak RSS, --workers 1 (one process)"
                    if workers == "1"
                    else f"serving peak RSS, --workers 2 (sum of the workers; supervisor and helpers {mb(rest)} more)"
                )
                value = (
                    mb(total)
                    if workers == "1"
                    else f"{mb(total)} ({' + '.join(mb(e) for e in each)})"
                )
                out.append(
                    Row(sec, what, value, target=f"≤ {RSS_MB} MB per process{_stated(size)}" if judged else "—",
                        ok=ok, missed_by=by)
                )  # fmt: skip
    if big != small:
        a, z = by_size[str(small)], by_size[str(big)]
        sec = f"PostgreSQL {n(big)} vs {n(small)}"
        for sc in ("first", "type", "deep"):
            xa = a["taxii"]["scenarios"].get(sc)
            xz = z["taxii"]["scenarios"].get(sc)
            if not xa or not xz:
                continue
            ratio = xz["seq"]["p50_ms"] / xa["seq"]["p50_ms"]
            ok, by = report._at_most(ratio, TAXII_SCALING)
            out.append(
                Row(sec, f"{LABEL[sc]}: p50 growth", f"{ms(xz['seq']['p50_ms'])} at {n(big)}",
                    f"{ms(xa['seq']['p50_ms'])} at {n(small)}", factor(ratio), f"≤ {TAXII_SCALING}x", ok, by)
            )  # fmt: skip
        for label, key in (
            ("import peak RSS growth, writing process", "writer_peak_rss"),
            ("import peak RSS growth, validating process", "reader_peak_rss"),
        ):
            va, vz = a["import"][key], z["import"][key]
            if not va or not vz:  # no reader process below 4 MiB (import_file reads inline)
                continue
            out.append(
                Row(sec, label, f"{mb(vz)} at {n(big)}", f"{mb(va)} at {n(small)}", factor(vz / va),
                    f"— (bound: ≤ {RSS_MB} MB at {n(PG_BIG)}, above)")
            )  # fmt: skip
        if a.get("serving_memory") and z.get("serving_memory"):
            for workers in ("1", "2"):
                va = serving_rss(a["serving_memory"][workers])[0]
                vz = serving_rss(z["serving_memory"][workers])[0]
                out.append(
                    Row(sec, f"serving peak RSS growth, --workers {workers} (sum of the workers)", f"{mb(vz)} at {n(big)}",
                        f"{mb(va)} at {n(small)}", factor(vz / va) if va else "—", f"— (bound: ≤ {RSS_MB} MB per process, above)")
                )  # fmt: skip
    return out


# --------------------------------------------------------------------------- the section


def _cores(c: dict[str, float]) -> str:
    return (
        f"{c['server']:.2f} / {c['postgres']:.2f} / {c['client']:.2f} / "
        f"{max(0.0, c['other']):.2f} / {c['machine']:.2f}"
    )


def methodology(results: dict[str, Any]) -> list[str]:
    pg = results["pg"]
    b = pg["budget"]
    srv = pg.get("server", {})
    settings = ", ".join(f"{k}={v}" for k, v in srv.get("settings", {}).items())
    lines = [
        "### How the PostgreSQL figures were measured",
        "",
        f"- Server: {srv.get('version', 'PostgreSQL')}, a throwaway cluster the runner starts (bench/pg_cluster.py: "
        "`initdb` into a temporary directory, `pg_ctl start` on a free loopback port, trust authentication) and removes "
        f"at the end; on the same 2-core machine as everything else. Settings: {settings}; everything else is "
        "PostgreSQL's default, durability included (fsync and full-page writes on). `synchronous_commit=off` is the "
        "counterpart of the SQLite store's WAL + `synchronous=NORMAL`: a machine crash may lose the last commits, never "
        "corrupt the database. Tansiq connects over TCP on 127.0.0.1 (`postgresql://postgres@127.0.0.1:PORT/DB`).",
        "- Each size gets a fresh database, set up with the CLI (`tansiq init`, `org add`, `user add`, `collection add "
        "--public`), dropped when the size is done.",
        "- Import: `import_file(store, collection, principal, path, options=WriteOptions(writer=..., access=..., audit=...))` "
        "as `tansiq import` builds them (full validation, the audit entry included), in a fresh process "
        "(bench/pg_workers.py); objects/s over the call (not interpreter start-up). `import_file` validates in a forked "
        "reader process while the calling process writes, so both peaks are given: the writer's (`RUSAGE_SELF`) and the "
        "reader's (`RUSAGE_CHILDREN`; a forked child starts with its parent's resident pages). Baseline: the same worker on the same bundle into a fresh SQLite store, in the "
        "same run (one run each).",
        "- After the import, `VACUUM (ANALYZE)` of the database (what autovacuum does on its own shortly after a bulk "
        "load; run explicitly so that it does not land in a measurement), timed below.",
        "- Latency: `tansiq serve --workers 1` (one process), the same three GET objects requests as the SQLite part "
        f"(limit=100; first page, `match[type]=indicator`, deep pages by following `next`, second half of the collection "
        f"from a walk bounded at {b['walk_seconds']:.0f} s), one keep-alive connection, up to {n(b['seq_requests'])} "
        f"requests or {b['seq_seconds']:.0f} s per scenario after 20 warm-up requests (bench/httpload.py). Baseline: "
        "the same requests to `tansiq serve` on the SQLite store imported in the same run.",
        f"- Throughput, `--workers 2` vs `--workers 1`: the servers run at once on the same database (an idle one costs "
        f"no CPU); a mixed read load (first page, type-filtered page and one of 60 deep `next` pages, in turn) on "
        f"{b['connections']} keep-alive connections, each in its own thread of the runner's process (bench/pg_load.py, "
        f"the HTTP client of bench/httpload.py), for {b['load_seconds']:.0f} s, alternately on the servers, "
        f"{b['rounds']} round(s) each (order alternating, so that other work on the machine hits all alike), after a "
        "2 s warm-up of each; requests/s pooled over the rounds. A keep-alive connection stays with the worker that "
        "accepted it, and uvicorn's workers accept from one shared socket, all pending connections at once: a client "
        "opening 8 connections together often gets all 8 on one worker. Many independent clients spread out; one load "
        "generator does not. So before each phase the client finds which worker holds each of its connections (psutil, "
        "by port) and reopens those on a worker holding more than half until each holds 4; the per-process CPU below "
        "shows both workers busy.",
        "- Where the CPU went during each throughput phase (average cores busy; 2.0 = the whole machine): the serving "
        "processes (psutil, every process of the server), the PostgreSQL server (postmaster and all its backends), the "
        "load client (this process: `time.process_time`, all its threads), other work on the machine (/proc/stat busy "
        "time minus those three). The client's own CPU is the price of generating load on the same 2 cores: what it "
        "takes cannot go to the servers.",
        "- Serving memory: `VmRSS`/`VmHWM` of each process of the server after the load phases; for `--workers 2` the "
        "two workers are summed (uvicorn's supervisor and its helper process are listed apart).",
        "",
    ]
    for size, r in sorted(pg["sizes"].items(), key=lambda kv: int(kv[0])):
        imp = r["import"]
        sq = r.get("sqlite", {}).get("import")
        ck = r["taxii"].get("checks", {})
        w = r["taxii"].get("walk", {})
        ours = (
            imp["writer_cpu_seconds"]
            + imp["reader_cpu_seconds"]
            + imp.get("postgres_cpu_seconds", 0)
        )
        busy = imp.get("machine", {}).get("machine")
        other = (
            f"; other work on the machine meanwhile ≈ {max(0.0, busy - ours / imp['process_seconds']):.2f} cores"
            if busy is not None and imp.get("process_seconds")
            else ""
        )
        cpu = (
            f"CPU: writer {imp['writer_cpu_seconds']:.1f} s, reader {imp['reader_cpu_seconds']:.1f} s, "
            f"PostgreSQL {imp.get('postgres_cpu_seconds', 0):.1f} s over {imp['seconds']:.1f} s wall{other}"
        )
        lines.append(
            f"- {int(size):,} objects ({r['bundle_bytes'] / MB:,.0f} MB bundle): PostgreSQL import {imp['seconds']:.1f} s "
            f"({imp.get('added', '?')} added, {imp.get('invalid', 0)} invalid, {imp.get('conflicts', 0)} conflicts; "
            f"{cpu})"
            + (
                f"; SQLite import {sq['seconds']:.1f} s (writer {sq['writer_cpu_seconds']:.1f} s, "
                f"reader {sq['reader_cpu_seconds']:.1f} s CPU)"
                if sq
                else ""
            )
            + f". VACUUM ANALYZE {r['vacuum_analyze_seconds']:.1f} s; database {r['database_bytes'] / MB:,.0f} MB. "
            f"First page: {ck.get('first', {}).get('objects')} objects, more={ck.get('first', {}).get('more')}; type page "
            f"types: {ck.get('type', {}).get('types')}. Walk: {w.get('pages', 0):,} pages, {w.get('objects', 0):,} objects "
            f"in {w.get('seconds')} s ({'complete' if w.get('complete') else 'stopped by the time bound'})."
        )
    lines.append("")
    return lines


def details(results: dict[str, Any]) -> list[str]:
    pg = results["pg"]
    out = [
        "### PostgreSQL details",
        "",
        "Throughput phases (`--workers 1` and `--workers 2`, alternating). Cores: average cores busy over the phase "
        "(serving processes / PostgreSQL / load client / other work / whole machine); CPU per request in ms.",
        "",
        "| Objects | Server | Round | req/s | p50 | p99 | cores: server / PG / client / other / machine | "
        "busy per serving process | CPU ms/req: server / PG / client |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size, r in sorted(pg["sizes"].items(), key=lambda kv: int(kv[0])):
        tp = r.get("throughput")
        if not tp:
            continue
        for workers, x in tp["workers"].items():
            for k, p in enumerate(x["phases"], 1):
                c = p["cpu"]
                per = c["cpu_ms_per_req"]
                out.append(
                    f"| {int(size):,} | {LABELS.get(workers, workers)} | {k} | {p['rps']:,.0f} | {ms(p['p50_ms'])} | {ms(p['p99_ms'])} | "
                    f"{_cores(c['cores'])} | {' / '.join(f'{v:.2f}' for v in c['server_processes_busy'])} | "
                    f"{per['server']:.2f} / {per['postgres']:.2f} / {per['client']:.2f} |"
                )
    out += [
        "",
        "Latency phases (one connection, `--workers 1`): CPU per request of the serving process and of PostgreSQL.",
        "",
        "| Objects | Server | Scenario | p50 | p99 | req/s | CPU ms/req: server / PG |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, r in sorted(pg["sizes"].items(), key=lambda kv: int(kv[0])):
        for name, tx in (("PostgreSQL", r["taxii"]), ("SQLite", r.get("sqlite", {}).get("taxii"))):
            if not tx:
                continue
            for sc in ("first", "type", "deep"):
                x = tx["scenarios"].get(sc, {}).get("seq")
                if not x:
                    continue
                cpu = x.get("cpu") or (tx.get("walk", {}).get("cpu") if sc == "deep" else None)
                per = (
                    f"{cpu['cpu_ms_per_req']['server']:.2f} / {cpu['cpu_ms_per_req']['postgres']:.2f}"
                    + (" (whole walk)" if sc == "deep" else "")
                    if cpu
                    else "—"
                )
                out.append(
                    f"| {int(size):,} | {name} | {LABEL[sc]} | {ms(x['p50_ms'])} | {ms(x['p99_ms'])} | "
                    f"{x['rps']:,.0f} | {per} |"
                )
    out += [
        "",
        "Serving memory after the load (each process: RSS now / peak RSS), and the PostgreSQL server's memory (its "
        "processes' proportional set sizes summed: shared buffers counted once).",
        "",
        "| Objects | Server | Processes | PostgreSQL server (sum of PSS) |",
        "|---|---|---|---|",
    ]
    for size, r in sorted(pg["sizes"].items(), key=lambda kv: int(kv[0])):
        for workers, mem in sorted(r.get("serving_memory", {}).items()):
            each = ", ".join(f"{p['role']} {mb(p['rss'])} / {mb(p['peak_rss'])}" for p in mem)
            out.append(
                f"| {int(size):,} | {LABELS.get(workers, workers)} | {each} | {mb(r.get('postgres_memory', 0))} |"
            )
    out.append("")
    return out


def section(results: dict[str, Any], pg_rows: list[Row], command: str) -> str:
    pg = results["pg"]
    mc = results.get("machine", {})
    met = sum(1 for r in pg_rows if r.ok)
    missed = sum(1 for r in pg_rows if r.ok is False)
    parts = [
        BEGIN,
        "## PostgreSQL (issue 4)",
        "",
        f"Command: `{command}`. Run: {pg['started']} → {pg['finished']} ({pg['elapsed_minutes']:.1f} min). "
        f"Targets met: {met}, missed: {missed}."
        + (
            " **Quick (smoke) run: small sizes, short phases — not the reference numbers.**"
            if results.get("quick")
            else ""
        ),
        "",
        f"- Machine: {mc.get('nproc', '?')} × {mc.get('cpu', '?')}, {mc.get('memory', '?')}; "
        f"{pg.get('server', {}).get('version', 'PostgreSQL')} on the same machine; psycopg {pg.get('psycopg', '?')}.",
        *report.load_lines({"load": pg.get("load")}),
        "",
        "Ratios: PG/SQLite is PostgreSQL ÷ SQLite measured in the same run (import: higher is better; latency: lower is "
        "better); workers: requests/s with 2 workers ÷ with 1; growth: the largest size ÷ the smallest.",
        "",
        report.markdown_table(pg_rows),
        "",
        "### Missed targets (PostgreSQL)",
        "",
        *(report.missed_notes(pg_rows) or ["None."]),
        "",
        *methodology(results),
        *details(results),
        END,
    ]
    return "\n".join(parts)


# --------------------------------------------------------------------------- splicing


SECTION = Section(BEGIN, END)
extract, splice, keep_section = SECTION.extract, SECTION.splice, SECTION.keep


def write_section(path: Path, block: str) -> None:
    """For a run of the PostgreSQL part only: replace its section, keep the rest."""
    SECTION.write(path, block)


def main(argv: list[str]) -> None:
    """``python -m bench.pg_report [RESULTS_JSON [MARKDOWN]]``: render the PostgreSQL
    section again from saved raw results (default bench/.cache/results-latest.json into
    docs/performance.md), e.g. after a change of this module; nothing is measured."""
    import sys

    import orjson

    from bench import generate, procs

    if argv[:1] in (["-h"], ["--help"]) or len(argv) > 2:
        sys.exit(main.__doc__)
    src = Path(argv[0]) if argv else generate.CACHE_DIR / "results-latest.json"
    out = Path(argv[1]) if len(argv) > 1 else procs.ROOT / "docs" / "performance.md"
    try:
        results = orjson.loads(src.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        sys.exit(f"cannot read {src}: {exc}")
    if "pg" not in results:
        sys.exit(f"{src} holds no PostgreSQL results (run `python -m bench pg`)")
    pg_rows = rows(results["pg"])
    write_section(out, section(results, pg_rows, results.get("command", "python -m bench pg")))
    print(f"wrote the PostgreSQL section of {out} from {src}")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
