"""The federation part's rows and its section of docs/performance.md.

Like the PostgreSQL section (bench/pg_report.py), it sits between two marker comments
before the hand-written Analysis of the whole file: a run of the federation part replaces
only that section; a run of the other parts puts it back (:func:`keep_section`). The
section ends with its own short analysis, written by hand under ``ANALYSIS_HEADING``;
a new run keeps that text.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench import report
from bench.report import MB, Row, factor, mb, n
from bench.sections import Section

BEGIN = (
    "<!-- BEGIN Federation section: written by `python -m bench federation` "
    "(bench/federation_report.py); runs of the other parts keep it as it is -->"
)
END = "<!-- END Federation section -->"
ANALYSIS_HEADING = "### Federation analysis"
ANALYSIS_PLACEHOLDER = (
    "<!-- Written by hand after a run; `python -m bench federation` keeps this text. -->"
)

# Targets (issue 5).
PULL_RATE = 5_000  # objects/s, replicating 100,000 objects A -> B
PUSH_RATE = 5_000
RATE_AT = 100_000
INCREMENTAL_SECONDS = 1.0  # 100 new objects into a 1,000,000-object collection
INCREMENTAL_AT = 1_000_000
MEMORY_GROWTH = 1.5  # "memory flat": peak RSS at the largest size within 1.5x of the smallest

PARTS = (
    ("http", "HTTP exchange (network + the peer's server)"),
    ("client_parse", "client: JSON parse + checks"),
    ("client_envelope", "client: envelopes (JSON) + status"),
    ("validate", "validation (ingest.prepare)"),
    ("write", "store.write_versions"),
    ("query", "store.query (outbound policy in SQL)"),
    ("rows_json", "rows' JSON -> dicts"),
    ("state", "cursor, status, lease, audit"),
    ("other", "other"),
)


def rate(res: dict[str, Any]) -> float:
    return res["objects"] / res["seconds"] if res.get("seconds") else 0.0


def _stated(size: int, at: int) -> str:
    return "" if size >= at else f" (stated at {n(at)})"


def rows(res: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    by_size = res.get("sizes", {})
    sizes = sorted(int(s) for s in by_size)
    big = sizes[-1] if sizes else 0
    for size in sizes:
        r = by_size[str(size)]
        sec = f"Federation {n(size)}"
        judged = size == big and size >= RATE_AT
        fl = r["floor"]
        for direction, target in (("pull", PULL_RATE), ("push", PUSH_RATE)):
            x = r.get(direction)
            if not x:
                continue
            v = rate(x)
            ok, by = report._at_least(v, target) if judged else (None, "")
            label = (
                "pull: B pulls from A (all versions, validated, written)"
                if direction == "pull"
                else "push: A pushes to B (B validates and writes)"
            )
            baseline = f"floor {n(rate(fl))} obj/s (bare GET of A's pages)"
            ratio = f"{v / rate(fl):.0%} of floor" if rate(fl) else "—"
            out.append(
                Row(sec, label, f"{n(v)} obj/s", baseline, ratio,
                    f"≥ {n(target)} obj/s{_stated(size, RATE_AT)}" if judged else f"(≥ {n(target)} obj/s at {n(RATE_AT)})",
                    ok, by, f"{x['objects']:,} versions in {x['seconds']:.1f} s")
            )  # fmt: skip
        if r.get("pull") and r.get("push"):
            out.append(
                Row(sec, "syncing process peak RSS: pull (B) / push (A)",
                    f"{mb(r['pull']['peak_rss'])} / {mb(r['push']['peak_rss'])}",
                    f"floor client {mb(fl['peak_rss'])}")
            )  # fmt: skip
    if len(sizes) > 1:
        small = sizes[0]
        a, z = by_size[str(small)], by_size[str(big)]
        sec = f"Federation {n(big)} vs {n(small)}"
        for direction in ("pull", "push"):
            if not a.get(direction) or not z.get(direction):
                continue
            va, vz = a[direction]["peak_rss"], z[direction]["peak_rss"]
            growth = vz / va if va else float("nan")
            ok, by = report._at_most(growth, MEMORY_GROWTH)
            out.append(
                Row(sec, f"{direction}: syncing process peak RSS growth", f"{mb(vz)} at {n(big)}",
                    f"{mb(va)} at {n(small)}", factor(growth), f"≤ {MEMORY_GROWTH}x (flat)", ok, by)
            )  # fmt: skip
    inc = res.get("incremental")
    if inc:
        size = inc["size"]
        sec = f"Federation incremental, {n(size)} objects"
        judged = size >= INCREMENTAL_AT
        for direction in ("pull", "push"):
            rounds = [x["seconds"] for x in inc[direction]["rounds"]]
            worst, mid = max(rounds), statistics.median(rounds)
            ok, by = report._at_most(worst, INCREMENTAL_SECONDS) if judged else (None, "")
            cli = inc.get(f"{direction}_cli")
            who = "B pulls" if direction == "pull" else "A pushes"
            out.append(
                Row(sec, f"{direction}: {inc['batch']} new objects, {who} (slowest of {len(rounds)} rounds)",
                    f"{worst * 1000:,.0f} ms (median {mid * 1000:,.0f} ms)",
                    f"`tansiq sync --once`, new process: {cli['seconds']:.2f} s" if cli else "—",
                    target=f"≤ {INCREMENTAL_SECONDS:g} s{_stated(size, INCREMENTAL_AT)}" if judged
                    else f"(≤ {INCREMENTAL_SECONDS:g} s at {n(INCREMENTAL_AT)})",
                    ok=ok, missed_by=by)
            )  # fmt: skip
    med = res.get("medallion")
    if med and med.get("pull"):
        size = med["size"]
        t = med["tansiq"]["pull"]
        vm, vt = rate(med["pull"]), rate(t)
        out.append(
            Row(f"Federation vs medallion ({n(size)} objects)",
                "pull: B pulls from medallion (memory backend) vs from Tansiq, same corpus",
                f"medallion {n(vm)} obj/s ({med['pull']['objects']:,} versions in {med['pull']['seconds']:.1f} s)",
                f"Tansiq {n(vt)} obj/s ({t['objects']:,} versions in {t['seconds']:.2f} s)",
                f"Tansiq {factor(vt / vm)} faster" if vm else "—")
        )  # fmt: skip
    return out


# --------------------------------------------------------------------------- the section


def _us(seconds: float, objects: int) -> str:
    return f"{seconds * 1e6 / objects:,.0f}" if objects else "—"


def breakdown_table(res: dict[str, Any]) -> list[str]:
    """Where the time of each full sync went (µs per object moved)."""
    head = [
        "| Sync | Objects | Wall s | "
        + " | ".join(label for _, label in PARTS)
        + " | syncing process CPU | peer server CPU |",
        "|---|---|---|" + "---|" * len(PARTS) + "---|---|",
    ]
    lines = []
    for size, r in sorted(res.get("sizes", {}).items(), key=lambda kv: int(kv[0])):
        for direction in ("pull", "push"):
            x = r.get(direction)
            if not x:
                continue
            objs = x["objects"]
            cells = [_us(x["breakdown"].get(k, 0.0), objs) for k, _ in PARTS]
            lines.append(
                f"| {direction} {int(size):,} | {objs:,} | {x['seconds']:.2f} | "
                + " | ".join(cells)
                + f" | {_us(x['cpu_seconds'], objs)} | {_us(x['server_cpu_seconds'], objs)} |"
            )
        fl = r["floor"]
        lines.append(
            f"| floor {int(size):,} | {fl['objects']:,} | {fl['seconds']:.2f} | "
            + " | ".join(
                _us(fl["seconds"] - fl["parse_seconds"], fl["objects"])
                if k == "http"
                else _us(fl["parse_seconds"], fl["objects"])
                if k == "client_parse"
                else "—"
                for k, _ in PARTS
            )
            + f" | {_us(fl['cpu_seconds'], fl['objects'])} | {_us(fl['server_cpu_seconds'], fl['objects'])} |"
        )
    return head + lines if lines else []


def incremental_table(inc: dict[str, Any]) -> list[str]:
    out = [
        "| Direction | Round | Wall ms | Requests | "
        + " | ".join(label for _, label in PARTS)
        + " |",
        "|---|---|---|---|" + "---|" * len(PARTS),
    ]
    for direction in ("pull", "push"):
        for k, x in enumerate(inc[direction]["rounds"], 1):
            cells = [f"{x['breakdown'].get(key, 0.0) * 1000:.1f}" for key, _ in PARTS]
            out.append(
                f"| {direction} | {k} | {x['seconds'] * 1000:.1f} | {x['requests']} | "
                + " | ".join(cells)
                + " |"
            )
    return out


def rss_lines(res: dict[str, Any]) -> list[str]:
    out = []
    for size, r in sorted(res.get("sizes", {}).items(), key=lambda kv: int(kv[0])):
        for direction in ("pull", "push"):
            x = r.get(direction)
            if not x or not x.get("rss_trace"):
                continue
            points = [x["rss_before"], *(rss for _, rss in x["rss_trace"])]
            out.append(
                f"- {direction} {int(size):,}: "
                + " → ".join(f"{p / MB:,.0f}" for p in points)
                + f" (peak {x['peak_rss'] / MB:,.0f})"
            )
    return out


def methodology(results: dict[str, Any]) -> list[str]:
    fed = results["federation"]
    b = fed["budget"]
    lines = [
        "### How the federation figures were measured",
        "",
        "- Two (or three) Tansiq instances on this machine, each its own SQLite database served by "
        "`tansiq --database DB serve --host 127.0.0.1 --port PORT` (uvicorn, one process), set up with the CLI as an "
        "operator would: A's corpus collection is the cached store of the TAXII part (`tansiq import` of the generated "
        "corpus), copied; B's organisation on A with a sync account (`user add --role sync`) and "
        "`grant ... --read`; on B an empty collection, A's organisation and a sync account of A allowed to write; "
        "`peer add NAME --url http://127.0.0.1:PORT/taxii2/ --org ORG --token-stdin` and `peer map NAME --pull "
        "REMOTE:LOCAL` / `--push LOCAL:REMOTE` (checked against the running peer).",
        "- The syncing process is a fresh Python process (bench/federation_worker.py) that opens the database and "
        "calls `Scheduler(store, registry).run_once([PEER])`, as `tansiq sync PEER --once` does; the time is that "
        "call's (the TAXII client's discovery, API root and collection requests included; interpreter start-up and "
        "imports excluded); its peak RSS is `ru_maxrss` from `wait4`. The TAXII client asks for pages of 1,000 "
        "(`limit=1000&match[version]=all`); a push sends 1,000 versions per envelope.",
        "- Pull: B pulls everything from A while A serves. Push: A pushes everything to a second, empty B while that B "
        "serves (so each direction writes into an empty collection). Objects/s = versions moved ÷ seconds. A's sync "
        "account sees every version but TLP:RED (5% of the corpus never leaves A: the outbound policy), so the "
        "versions moved are about 95% of the corpus; the runner checks that each side received exactly the versions "
        "the sync account can read (count of the floor's walk = versions moved = versions stored).",
        "- Floor: the pages a pull asks for (same URL, `limit=1000&match[version]=all`, same token), fetched from A "
        "by a bare `httpx.Client` following `next`, with no validation, no writes and no cursor (the JSON is parsed to "
        "read `next`; that time is shown apart).",
        "- Where the time goes: timing wrappers around the parts of the hot path in the syncing process (the HTTP "
        "exchange in the client's httpx transport, request sent to response body read, which holds the peer "
        "server's work; the client's JSON parsing and checks; `ingest.bundle.prepare`; `store.write_versions`; "
        "`store.query`; the rows' `orjson.loads` in push; the sync state: cursor, status, lease, audit). CPU: the "
        "syncing process's own (`time.process_time`) and the peer server's (psutil, user + system) over the sync.",
        f"- Incremental: A and B each hold a copy of the {n(fed['incremental']['size']) if fed.get('incremental') else '—'}-object "
        "store (B as if it had replicated A already); the cursor is set at the end of what is there (pull: A's last "
        "`date_added`, push: A's last (date_added, seq)), as a completed sync leaves it. Then, in one syncing process, "
        f"{b['rounds']} rounds of: {b['batch']} new indicators (TLP:CLEAR, GREEN and AMBER in turn) written on A with "
        "`ingest.bundle.write_objects` as A's analyst, then one timed `run_once`. Pull rounds first (A serving), then "
        "push rounds (B serving). The target is judged on the slowest round. Baseline: the same with `tansiq sync "
        "PEER --once` in a new process (one more batch of new objects, written with `tansiq import`), whose wall time "
        "includes interpreter start-up.",
    ]
    med = fed.get("medallion")
    if med and med.get("pull"):
        lines.append(
            f"- medallion: {med['server']}, holding the first {n(med['size'])} objects of the same corpus (page cap 100, "
            "HTTP Basic); B (a fresh instance) pulls its collection with `peer add ... --user U --password-stdin` and "
            "the same syncing process. medallion applies no TLP policy, so all versions move; Tansiq's row is a pull of "
            "the same corpus from a Tansiq A in the same run."
        )
    elif med and med.get("error"):
        lines.append(f"- medallion: not measured in this run ({med['error']}).")
    for size, r in sorted(fed.get("sizes", {}).items(), key=lambda kv: int(kv[0])):
        pull, push, fl = r.get("pull"), r.get("push"), r["floor"]
        text = (
            f"- {int(size):,} objects: A's collection holds {r['source_versions']:,} versions; the sync account reads "
            f"{fl['objects']:,} ({fl['pages']} pages, {fl['bytes_received'] / MB:,.1f} MB)."
        )
        if pull:
            text += (
                f" Pull: {pull['stored']:,} versions stored on B, {pull['invalid']} invalid, {pull['requests']} HTTP requests, "
                f"{pull['bytes_received'] / MB:,.1f} MB received; A's serving process peak RSS "
                f"{mb(r['source_server_peak_rss'])}."
            )
        if push:
            text += (
                f" Push: {push['stored']:,} versions stored on B, {push['requests']} HTTP requests, "
                f"{push['bytes_sent'] / MB:,.1f} MB sent; B's serving process peak RSS "
                f"{mb(r['target_server_peak_rss'])}."
            )
        lines.append(text)
    inc = fed.get("incremental")
    if inc:
        lines.append(
            f"- Incremental at {inc['collection_versions']:,} versions (setup: two store copies and the CLI, "
            f"{inc['setup_seconds']:.0f} s, not timed). Syncing process peak RSS: pull {mb(inc['pull']['peak_rss'])}, "
            f"push {mb(inc['push']['peak_rss'])}. `tansiq sync --once` (new process): pull "
            f"{inc['pull_cli']['seconds']:.2f} s, push {inc['push_cli']['seconds']:.2f} s wall."
        )
    lines.append("")
    return lines


def details(results: dict[str, Any]) -> list[str]:
    fed = results["federation"]
    out = [
        "### Federation details",
        "",
        "Full syncs: where the wall time went, in µs per version moved (the HTTP exchange holds the peer server's "
        "work: A reading and serialising pages for a pull, B validating and writing for a push; the last two columns "
        "are CPU time per version of the syncing process and of the peer's server).",
        "",
        *breakdown_table(fed),
        "",
    ]
    traces = rss_lines(fed)
    if traces:
        out += [
            "Syncing process RSS along each full sync (MB; before the sync, then after about every twentieth of "
            "its pages):",
            "",
            *traces,
            "",
        ]
    inc = fed.get("incremental")
    if inc:
        out += [
            f"Incremental rounds ({inc['batch']} new objects into {inc['collection_versions']:,} versions): wall time and "
            "its parts in ms.",
            "",
            *incremental_table(inc),
            "",
        ]
    return out


def _load(fed: dict[str, Any]) -> list[str]:
    lines = report.load_lines({"load": fed.get("load")})
    load = fed.get("load") or {}
    if load.get("uptime_start"):
        lines.append(
            f"- `uptime` at the start: `{load['uptime_start']}`; at the end: `{load['uptime_end']}`."
        )
    return lines


def section(
    results: dict[str, Any], fed_rows: list[Row], command: str, analysis: str | None = None
) -> str:
    fed = results["federation"]
    mc = results.get("machine", {})
    met = sum(1 for r in fed_rows if r.ok)
    missed = sum(1 for r in fed_rows if r.ok is False)
    parts = [
        BEGIN,
        "## Federation (issue 5)",
        "",
        f"Command: `{command}`. Run: {fed['started']} → {fed['finished']} ({fed['elapsed_minutes']:.1f} min). "
        f"Targets met: {met}, missed: {missed}."
        + (
            " **Quick (smoke) run: small sizes — not the reference numbers.**"
            if results.get("quick")
            else ""
        ),
        "",
        f"- Machine: {mc.get('nproc', '?')} × {mc.get('cpu', '?')}, {mc.get('memory', '?')}; every instance, "
        "the syncing process and the load share these cores.",
        *_load(fed),
        "",
        "Ratios: a sync's objects/s as a share of the floor's (the same pages fetched without validation or writes); "
        "growth: the largest size ÷ the smallest; medallion: Tansiq's objects/s ÷ medallion's.",
        "",
        report.markdown_table(fed_rows),
        "",
        "### Missed targets (federation)",
        "",
        *(report.missed_notes(fed_rows) or ["None."]),
        "",
        *methodology(results),
        *details(results),
        ANALYSIS_HEADING,
        "",
        analysis or ANALYSIS_PLACEHOLDER,
        "",
        END,
    ]
    return "\n".join(parts)


# --------------------------------------------------------------------------- splicing


SECTION = Section(BEGIN, END)
extract, splice, keep_section = SECTION.extract, SECTION.splice, SECTION.keep


def existing_analysis(block: str | None) -> str | None:
    """The hand-written analysis of an earlier federation section."""
    if not block:
        return None
    i = block.find("\n" + ANALYSIS_HEADING)
    if i < 0:
        return None
    body = block[i + 1 + len(ANALYSIS_HEADING) :].removesuffix(END).strip()
    return None if not body or body == ANALYSIS_PLACEHOLDER else body


def write_section(path: Path, results: dict[str, Any], fed_rows: list[Row], command: str) -> None:
    """Replace the federation section of ``path`` (keeping its hand-written analysis)."""
    text = SECTION.read(path)
    block = section(results, fed_rows, command, existing_analysis(extract(text)))
    SECTION.write(path, block)
