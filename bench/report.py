"""Turn raw results into rows against the targets, a console table and docs/performance.md."""

from __future__ import annotations

import math
import os
import platform
import re
import sqlite3
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

MB = 1024 * 1024

# Targets (from the performance brief).
IMPORT_RATE = 20_000  # objects/s
STIX2_RATIO = 10  # Tansiq >= 10x stix2.parse
VALIDATOR_RATIO = 100  # Tansiq >= 100x stix2-validator
FLOOR_FACTOR = 5  # floor / Tansiq <= 5
IMPORT_RSS_MB = 300  # at 250,000 objects
IMPORT_RSS_AT = 250_000
TAXII_P50_MS = 10  # at 1,000,000 objects
TAXII_BIG = 1_000_000
TAXII_SCALING = 1.5  # p50 at 1,000,000 within 1.5x of 10,000
FLOOR_SHARE = 0.5  # throughput >= 50% of the floor
SERVE_RSS_MB = 300  # serving process at 1,000,000
# Need-to-know (issue 3), stated at 1,000,000 objects.
ACCESS_FILTER_RATIO = 1.20  # caller's page latency <= 1.2x an admin's for the same request
AUDIT_COST = 0.10  # the audit log costs <= 10% of import and of read throughput
ACCESS_BIG = 1_000_000

SCENARIO_LABEL = {
    "first": "first page",
    "type": "match[type]=indicator",
    "deep": "deep pages via next",
}

ANALYSIS_HEADING = "## Analysis"
ANALYSIS_PLACEHOLDER = (
    "<!-- ANALYSIS: to be written by the lead. Re-running `python -m bench` keeps whatever "
    "is written under this heading. -->"
)


@dataclass
class Row:
    section: str
    label: str
    value: str
    baseline: str = "—"
    ratio: str = "—"
    target: str = "—"
    ok: bool | None = None  # None: informational
    missed_by: str = ""
    note: str = ""

    @property
    def result(self) -> str:
        if self.ok is None:
            return "info"
        return "met" if self.ok else f"MISSED by {self.missed_by}"


# --------------------------------------------------------------------------- formatting


def n(x: float) -> str:
    return f"{x:,.0f}"


def ms(x: float) -> str:
    if x != x:  # NaN
        return "n/a"
    return f"{x:,.2f} ms" if x < 100 else f"{x:,.0f} ms"


def mb(x: float) -> str:
    return f"{x / MB:,.0f} MB"


def factor(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    return f"{x:,.1f}x" if x < 100 else f"{x:,.0f}x"


def _at_least(value: float, threshold: float) -> tuple[bool, str]:
    ok = value >= threshold
    return ok, "" if ok else f"{threshold / value:.2f}x" if value > 0 else "∞"


def _at_most(value: float, threshold: float) -> tuple[bool, str]:
    ok = value <= threshold
    return ok, "" if ok else f"{value / threshold:.2f}x"


# --------------------------------------------------------------------------- rows


def import_rows(res: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    sizes = sorted(int(s) for s in res.get("sizes", {}))
    for size in sizes:
        r = res["sizes"][str(size)]
        t, fl, sx, va = r["tansiq"], r["floor"], r["stix2"], r["validator"]
        tr = t["rate"]
        sec = f"Import {n(size)}"
        ok, by = _at_least(tr, IMPORT_RATE)
        bad = t.get("invalid", 0) + t.get("conflicts", 0)
        rows.append(
            Row(sec, "Tansiq import (full validation, SQLite)", f"{n(tr)} obj/s", target=f"≥ {n(IMPORT_RATE)} obj/s", ok=ok, missed_by=by,
                note=f"{t['objects']:,} objects, median of {len(t['rates'])}: {t['rates']}; {t.get('added', '?')} added, {bad} rejected")
        )  # fmt: skip
        ratio = tr / sx["rate"]
        ok, by = _at_least(ratio, STIX2_RATIO)
        sample = (
            f"sample of {n(sx['objects'])}" if sx["objects"] < sx["file_objects"] else "all objects"
        )
        rows.append(
            Row(
                sec,
                "vs stix2.parse(allow_custom=True)",
                f"{n(tr)} obj/s",
                f"{n(sx['rate'])} obj/s ({sample})",
                factor(ratio),
                f"≥ {STIX2_RATIO}x",
                ok,
                by,
            )
        )
        ratio = tr / va["rate"]
        ok, by = _at_least(ratio, VALIDATOR_RATIO)
        rows.append(
            Row(sec, "vs stix2-validator validate_instance", f"{n(tr)} obj/s", f"{n(va['rate'])} obj/s (sample of {n(va['objects'])})", factor(ratio),
                f"≥ {VALIDATOR_RATIO}x", ok, by, note=f"validator rejected {va['invalid']} of {va['objects']}")
        )  # fmt: skip
        ratio = fl["rate"] / tr
        ok, by = _at_most(ratio, FLOOR_FACTOR)
        rows.append(
            Row(
                sec,
                "vs floor (orjson + executemany, unindexed)",
                f"{n(tr)} obj/s",
                f"{n(fl['rate'])} obj/s",
                f"floor/Tansiq {factor(ratio)}",
                f"≤ {FLOOR_FACTOR}x",
                ok,
                by,
            )
        )
        rss = t["peak_rss"]
        if size == sizes[-1]:
            ok, by = _at_most(rss / MB, IMPORT_RSS_MB)
            tgt = f"≤ {IMPORT_RSS_MB} MB" + (
                "" if size >= IMPORT_RSS_AT else f" (stated at {n(IMPORT_RSS_AT)})"
            )
        else:
            ok, by, tgt = None, "", f"(≤ {IMPORT_RSS_MB} MB at {n(IMPORT_RSS_AT)})"
        rows.append(
            Row(
                sec,
                "Tansiq import peak RSS (whole process)",
                mb(rss),
                target=tgt,
                ok=ok,
                missed_by=by,
            )
        )
    return rows


def _p(s: dict[str, Any]) -> str:
    return f"p50 {ms(s['p50_ms'])} · p99 {ms(s['p99_ms'])} · {n(s['rps'])} req/s"


def taxii_rows(res: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    sizes = sorted(int(s) for s in res.get("tansiq", {}))
    if not sizes:
        return rows
    big, small = sizes[-1], sizes[0]
    for size in sizes:
        t = res["tansiq"][str(size)]
        f = res["floor"].get(str(size), {})
        sec = f"TAXII {n(size)}"
        for sc in ("first", "type", "deep"):
            ts = t["scenarios"].get(sc)
            if not ts:
                continue
            fs = f.get("scenarios", {}).get(sc, {})
            seq = ts["seq"]
            if size == big:
                ok, by = _at_most(seq["p50_ms"], TAXII_P50_MS)
                tgt = f"p50 ≤ {TAXII_P50_MS} ms" + (
                    "" if size >= TAXII_BIG else f" (stated at {n(TAXII_BIG)})"
                )
            else:
                ok, by, tgt = None, "", "—"
            label = f"{SCENARIO_LABEL[sc]}: latency, 1 connection"
            note = ""
            if sc == "deep":
                w = t.get("walk", {})
                note = f"walk of {n(w.get('pages', 0))} pages ({'complete' if w.get('complete') else 'stopped by the time bound'}); measured from page {n(w.get('deep_from_page', 0))} on"
            base = f"floor {ms(fs['seq']['p50_ms'])}" if fs.get("seq") else "—"
            ratio = factor(seq["p50_ms"] / fs["seq"]["p50_ms"]) if fs.get("seq") else "—"
            rows.append(Row(sec, label, _p(seq), base, ratio, tgt, ok, by, note))
            if "conc" in ts and fs.get("conc"):
                c, fc = ts["conc"], fs["conc"]
                share = c["rps"] / fc["rps"]
                ok, by = _at_least(share, FLOOR_SHARE)
                rows.append(
                    Row(sec, f"{SCENARIO_LABEL[sc]}: throughput, {c['connections']} connections", f"{n(c['rps'])} req/s (p50 {ms(c['p50_ms'])})",
                        f"floor {n(fc['rps'])} req/s", f"{share:.0%} of floor", f"≥ {FLOOR_SHARE:.0%} of floor", ok, by)
                )  # fmt: skip
        rss = t["peak_rss"]
        if size == big:
            ok, by = _at_most(rss / MB, SERVE_RSS_MB)
            tgt = f"≤ {SERVE_RSS_MB} MB" + (
                "" if size >= TAXII_BIG else f" (stated at {n(TAXII_BIG)})"
            )
        else:
            ok, by, tgt = None, "", "—"
        floor_rss = f.get("peak_rss")
        rows.append(
            Row(
                sec,
                "serving process peak RSS",
                mb(rss),
                f"floor {mb(floor_rss)}" if floor_rss else "—",
                target=tgt,
                ok=ok,
                missed_by=by,
            )
        )
    if big != small:
        for sc in ("first", "type", "deep"):
            a = res["tansiq"][str(small)]["scenarios"].get(sc)
            z = res["tansiq"][str(big)]["scenarios"].get(sc)
            if not a or not z:
                continue
            ratio = z["seq"]["p50_ms"] / a["seq"]["p50_ms"]
            ok, by = _at_most(ratio, TAXII_SCALING)
            rows.append(
                Row(f"TAXII {n(big)} vs {n(small)}", f"{SCENARIO_LABEL[sc]}: p50 growth", f"{ms(z['seq']['p50_ms'])} at {n(big)}",
                    f"{ms(a['seq']['p50_ms'])} at {n(small)}", factor(ratio), f"≤ {TAXII_SCALING}x", ok, by)
            )  # fmt: skip
    m = res.get("medallion")
    if m and "scenarios" in m:
        t = res["tansiq"][str(small)]
        sec = f"TAXII vs medallion ({n(m['size'])} objects)"
        for sc in ("first", "type", "deep"):
            ms_ = m["scenarios"].get(sc)
            ts = t["scenarios"].get(sc)
            if not ms_ or not ts:
                continue
            speed = ms_["seq"]["p50_ms"] / ts["seq"]["p50_ms"]
            rows.append(
                Row(sec, f"{SCENARIO_LABEL[sc]}: latency, 1 connection", f"Tansiq @{n(small)}: {_p(ts['seq'])}",
                    f"medallion @{n(m['size'])}: {_p(ms_['seq'])}", f"Tansiq {factor(speed)} faster")
            )  # fmt: skip
            if "conc" in ms_ and "conc" in ts:
                rows.append(
                    Row(sec, f"{SCENARIO_LABEL[sc]}: throughput, {ts['conc']['connections']} connections", f"Tansiq @{n(small)}: {n(ts['conc']['rps'])} req/s",
                        f"medallion @{n(m['size'])}: {ms_['conc']['rps']:,.2f} req/s", factor(ts["conc"]["rps"] / ms_["conc"]["rps"]))
                )  # fmt: skip
    return rows


def _cost(on: float, off: float) -> tuple[str, bool, str]:
    """Audit cost as the share of throughput lost with it on; (ratio text, ok, missed by)."""
    cost = 1 - on / off if off > 0 else float("nan")
    ok = cost <= AUDIT_COST
    by = "" if ok else f"{(cost - AUDIT_COST) * 100:.1f} pts"
    return f"on/off {on / off:.2f} (cost {cost:.1%})", ok, by


ACCESS_CALLER_LABEL = {
    "analyst": "granted analyst",
    "outsider": "non-granted org, public collection (CLEAR+GREEN only)",
}


def access_rows(res: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for size in sorted(int(s) for s in res.get("filter", {})):
        r = res["filter"][str(size)]
        sec = f"Access filter {n(size)}"
        stated = "" if size >= ACCESS_BIG else f" (stated at {n(ACCESS_BIG)})"
        for sc in ("first", "type", "deep"):
            tx = r.get("taxii", {}).get(sc)
            if not tx:
                continue
            adm = tx["callers"]["admin"]
            for who, label in ACCESS_CALLER_LABEL.items():
                c = tx["callers"][who]
                ratio = c["p50_ms"] / adm["p50_ms"]
                ok, by = _at_most(ratio, ACCESS_FILTER_RATIO)
                chk = r.get("checks", {}).get(who, {}).get(sc, {})
                if sc == "deep":
                    note = f"{chk.get('pages')} `next` pages at the same depths for every caller"
                else:
                    same = (
                        "same objects as the admin's"
                        if chk.get("same_as_admin")
                        else "other objects than the admin's"
                    )
                    note = f"{chk.get('objects')} objects, {same}; markings: {', '.join(chk.get('markings', []))}"
                rows.append(
                    Row(sec, f"TAXII {SCENARIO_LABEL[sc]}: {label} vs admin, latency", f"p50 {ms(c['p50_ms'])} · p99 {ms(c['p99_ms'])}",
                        f"admin p50 {ms(adm['p50_ms'])}", f"{ratio:.2f}x", f"≤ {ACCESS_FILTER_RATIO:.2f}x{stated}", ok, by,
                        note + f"; {c['requests']} requests each, interleaved")
                )  # fmt: skip
            lib = r.get("library", {}).get("scenarios", {}).get(sc)
            if lib:
                a, u = lib["analyst"], lib["unfiltered"]
                rows.append(
                    Row(sec, f"store.query {SCENARIO_LABEL[sc]}: analyst's Access vs access=None", f"p50 {a['p50_ms'] * 1000:,.0f} µs",
                        f"unfiltered p50 {u['p50_ms'] * 1000:,.0f} µs", f"{a['p50_ms'] / u['p50_ms']:.2f}x", "— (pure SQL cost; no stated target)",
                        note=f"admin's Access {lib['admin']['p50_ms'] * 1000:,.0f} µs, non-granted reader's {lib['outsider']['p50_ms'] * 1000:,.0f} µs")
                )  # fmt: skip
    rd = res.get("read")
    if rd:
        size = rd["size"]
        sec = f"Audit log, reads {n(size)}"
        stated = "" if size >= ACCESS_BIG else f" (stated at {n(ACCESS_BIG)})"
        for sc in ("first", "deep"):
            x = rd["scenarios"].get(sc)
            if not x:
                continue
            for mode, how in (
                ("seq", "1 connection"),
                ("conc", f"{rd['connections']} connections"),
            ):
                on, off = x["on"][mode], x["off"][mode]
                ratio, ok, by = _cost(on["rps"], off["rps"])
                rows.append(
                    Row(sec, f"TAXII {SCENARIO_LABEL[sc]}: throughput, {how}, audit on vs off", f"{n(on['rps'])} req/s (p50 {ms(on['p50_ms'])})",
                        f"off {n(off['rps'])} req/s (p50 {ms(off['p50_ms'])})", ratio, f"cost ≤ {AUDIT_COST:.0%}{stated}", ok, by,
                        f"rounds on {on['rounds_rps']}, off {off['rounds_rps']} req/s")
                )  # fmt: skip
    for size in sorted(int(s) for s in res.get("import", {})):
        r = res["import"][str(size)]
        on, off = r["on"], r["off"]
        ratio, ok, by = _cost(on["rate"], off["rate"])
        rows.append(
            Row(f"Audit log, import {n(size)}", "import_file throughput, audit on vs off", f"{n(on['rate'])} obj/s",
                f"off {n(off['rate'])} obj/s", ratio, f"cost ≤ {AUDIT_COST:.0%}", ok, by,
                f"median of {r['repeats']} each: on {on['rates']}, off {off['rates']}; {on['audit_entries']} audit entries, {on['audit_detail_bytes'] / 1024:,.0f} KiB of detail")
        )  # fmt: skip
    return rows


# --------------------------------------------------------------------------- rendering


COLUMNS = ("Measurement", "Value", "Baseline", "Ratio", "Target", "Result")


def _cells(r: Row) -> list[str]:
    return [f"{r.section}: {r.label}", r.value, r.baseline, r.ratio, r.target, r.result]


def console_table(rows: list[Row]) -> str:
    cells = [list(COLUMNS)] + [_cells(r) for r in rows]
    widths = [min(70, max(len(c[i]) for c in cells)) for i in range(len(COLUMNS))]
    lines = []
    for k, c in enumerate(cells):
        lines.append("  ".join(x[: widths[i]].ljust(widths[i]) for i, x in enumerate(c)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _md(x: str) -> str:
    return x.replace("|", "\\|")


def markdown_table(rows: list[Row]) -> str:
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        c = _cells(r)
        c[0] = f"**{r.section}**: {r.label}"
        if r.ok is False:
            c[-1] = f"**{c[-1]}**"
        out.append("| " + " | ".join(_md(x) for x in c) + " |")
    return "\n".join(out)


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    pkgs = [
        "orjson",
        "uvicorn",
        "starlette",
        "h11",
        "httptools",
        "uvloop",
        "stix2",
        "stix2-validator",
        "ijson",
        "medallion",
        "flask",
        "gunicorn",
    ]
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        "sqlite": sqlite3.sqlite_version,
        "packages": ", ".join(f"{p} {_version(p)}" for p in pkgs),
    }


def missed_notes(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        if r.ok is False:
            out.append(
                f"- **{r.section}: {r.label}** — measured {r.value}"
                + (f" (ratio {r.ratio})" if r.ratio != "—" else "")
                + f"; target {r.target}; missed by {r.missed_by}."
            )
    return out


def methodology(results: dict[str, Any]) -> list[str]:
    lines = []
    imp = results.get("import")
    if imp:
        b = imp["budget"]
        lines += [
            "### Import",
            "",
            "- Corpus: `bench/generate.py` (deterministic, seed "
            f"{results['seed']}): ATT&CK-shaped SDOs (attack-patterns with kill chain phases and external references, "
            "intrusion-sets, malware, tools, identities), relationships (uses / targets / indicates / subtechnique-of), "
            "indicators with varied STIX patterns, SCOs (ipv4-addr, domain-name, url, file with hashes) with UUIDv5 ids, "
            "later versions of some SDOs, TLP 2.0 markings. One object per line in one bundle file.",
            "- Tansiq: `tansiq.ingest.bundle.import_file(store, collection_id, principal, path)` in a fresh process on a fresh "
            "database set up with `tansiq init`, `org add`, `user add`, `collection add`; the rate covers the call only "
            "(not interpreter start-up); peak RSS is the process's `ru_maxrss` from `wait4`. "
            + (
                f"Sizes up to 50,000: median of {b['repeats_small']} runs; larger: one run."
                if b["repeats_small"] > 1
                else "One run per size."
            ),
            f"- stix2.parse / stix2-validator: per object, on an evenly strided sample (stix2 up to {n(b['stix2_sample'])} "
            f"objects, validator {n(b['validator_sample'])}); file reading excluded from their time, which favours them.",
            "- Floor: orjson parse of the whole file + `executemany` of (id, type, modified, json) into an unindexed SQLite "
            "table, one transaction, WAL + synchronous=NORMAL like Tansiq; it holds the whole file in memory.",
            "",
        ]
        for size, r in sorted(imp["sizes"].items(), key=lambda kv: int(kv[0])):
            t = r["tansiq"]
            types = ", ".join(
                f"{k} {v:,}" for k, v in sorted(r["types"].items(), key=lambda kv: -kv[1])
            )
            lines.append(
                f"- {int(size):,} objects ({r['bundle_bytes'] / MB:.0f} MB): {types}. Tansiq: {t.get('added', '?')} added, "
                f"{t.get('unchanged', 0)} unchanged, {t.get('invalid', 0)} invalid, {t.get('conflicts', 0)} conflicts; "
                f"process wall time {t.get('process_seconds', 0):.1f} s."
            )
            if t.get("first_failures"):
                lines.append(f"  - first rejections: {t['first_failures'][:3]}")
        lines.append("")
    tx = results.get("taxii")
    if tx:
        b = tx["budget"]
        lines += [
            "### TAXII",
            "",
            "- Client: bench/httpload.py, raw sockets with HTTP/1.1 keep-alive on 127.0.0.1, in the runner's process "
            "(it shares the 2 cores with the server). `Accept: application/taxii+json;version=2.1`, Bearer token.",
            f"- Latency: one connection, sequential requests, after 20 warm-up requests; up to {n(b['seq_requests'])} requests "
            f"or {b['seq_seconds']:.0f} s. Throughput: {b['connections']} connections in threads for {b['conc_seconds']:.0f} s.",
            "- Deep pages: a walk following `next` from the first page to the end of the collection (time bound "
            f"{b['walk_seconds']:.0f} s); latency is over the requests for the second half (middle to end); throughput replays "
            "those `next` URLs on the concurrent connections.",
            "- Floor: bench/floor_app.py, a bare ASGI app under the same uvicorn returning the exact bytes Tansiq returned for "
            "the same page (first, type-filtered and a deep page), with no routing, auth or database.",
        ]
        for size, t in sorted(tx.get("tansiq", {}).items(), key=lambda kv: int(kv[0])):
            st = t.get("store", {})
            ck = t.get("checks", {})
            lines.append(
                f"- Tansiq {int(size):,}: served by `{t.get('command')}` (uvicorn, 1 process); store built once with "
                f"`tansiq import` (CLI) in {st.get('import_seconds', '?')} s"
                + (
                    f" = {int(size) / st['import_seconds']:,.0f} objects/s, peak RSS {mb(st['import_peak_rss'])}"
                    if st.get("import_seconds") and st.get("import_peak_rss")
                    else ""
                )
                + f" (built {st.get('built', '?')}, cached in bench/.cache). First page check: "
                f"{ck.get('first', {}).get('objects')} objects, more={ck.get('first', {}).get('more')}; type page types: "
                f"{ck.get('type', {}).get('types')}. Walk: {t.get('walk', {}).get('pages')} pages, "
                f"{t.get('walk', {}).get('objects'):,} objects in {t.get('walk', {}).get('seconds')} s."
            )
        m = tx.get("medallion")
        if m:
            if "error" in m:
                lines.append(f"- medallion: failed to run: {m['error'][:500]}")
            else:
                cal = m["calibration"]
                lines.append(
                    f"- medallion: {m['versions']}, memory backend, served by {m['server']}. Its memory backend does "
                    f"O(n²) work per first page (pairwise spec-version filter, objects × manifest join), so the runner timed a "
                    f"first page on 300 objects ({cal['first_page_seconds']:.2f} s) and measured at **{n(m['size'])} objects**, the "
                    f"largest size whose first page fits {tx['budget']['medallion_request_budget']} s. Extrapolated to "
                    f"{n(m['target_size'])} objects: ≈{m['extrapolated_first_page_seconds_at_target']:,.0f} s per first page."
                )
                p = m.get("probe")
                if p:
                    lines.append(
                        f"  - Measured: one first-page request on {n(p['size'])} objects "
                        + (
                            f"took {p['seconds']:,.1f} s."
                            if p["finished"]
                            else f"had no answer within {p['timeout']:.0f} s."
                        )
                    )
                lines.append(
                    f"  - medallion's `next` is a server-side session consumed by use, so its deep-page numbers come from its "
                    f"own walk ({m.get('walk', {}).get('pages')} pages) and it has no deep-page throughput row."
                )
        lines.append("")
    lines += access_methodology(results)
    return lines


def access_methodology(results: dict[str, Any]) -> list[str]:
    ac = results.get("access")
    if not ac:
        return []
    b = ac["budget"]
    lines = [
        "### Access (need-to-know, issue 3)",
        "",
        "- Callers, made with the CLI when the cached store is built (`org add`, `user add --json`, `grant COLL ORG "
        "--read`; the collection is created `--public`): an **admin** (the baseline), an analyst of an organisation "
        "**granted read** (sees what the admin sees: neither wrote nor is named on the TLP:RED objects, so the same page "
        "has the same objects), and an analyst of a **non-granted** organisation reading the public collection (TLP:CLEAR "
        "and TLP:GREEN only; unmarked objects take the default TLP:AMBER). The corpus was imported by a third user.",
        f"- TAXII filter cost: `tansiq serve`, the same GET objects request (limit=100) by the three callers, interleaved on "
        f"three keep-alive connections (one request at a time, order rotating), up to {n(b['rounds'])} rounds or "
        f"{b['seconds']:.0f} s per scenario after 20 warm-up rounds; ratio = caller's p50 ÷ admin's p50. Deep pages: "
        f"{b['deep_starts']} keyset positions over the second half of the collection; for each, the page after "
        "`?added_after=<position>` is requested through its `next` token, so every caller reads `next` pages at the same depth. "
        "The admin's reads are filtered too (its Access hides TLP:RED it is not named on), as every TAXII read is.",
        "- Library filter cost: `store.query` of the same pages (deep: `Query(after=position)`, what a `next` token "
        "decodes to) with `Query(access=None)` and with each caller's Access from `access_for(principal, collection, "
        f"default_tlp(store))`, interleaved in a fresh process, up to {n(b['lib_rounds'])} rounds or {b['lib_seconds']:.1f} s "
        "per scenario: the SQL cost of the filter without HTTP, auth or serialisation.",
        f"- Audit on reads: two servers (bench/access_server.py: `create_app(Settings(), store)` under uvicorn, one process) "
        f"on the same store, one as shipped and one whose `app.state.services.audit.record` is a no-op (the event object is "
        f"still built); the granted analyst's first page and deep `next` pages, sequential and over {b['connections']} "
        f"connections, {b['read_seconds']:.0f} s per phase, {b['read_rounds']} alternating round(s); req/s pooled over the rounds. "
        "Cost = 1 − on ÷ off.",
        f"- Audit on imports: `import_file(store, collection, principal, path, options=WriteOptions(writer=..., access=..., "
        f"audit=event(...)))` as `tansiq import` builds them vs the same with `audit=None`, each in a fresh process on a fresh "
        f"database, alternating on/off; median of {b['import_repeats']} runs each up to 50,000 objects, "
        f"{b['import_repeats_large']} above.",
    ]
    for size, r in sorted(ac.get("filter", {}).items(), key=lambda kv: int(kv[0])):
        ck = r.get("checks", {})
        parts = []
        for who in ("admin", "analyst", "outsider"):
            got = []
            for sc in ("first", "type", "deep"):
                c = ck.get(who, {}).get(sc, {})
                what = (
                    f"{c.get('pages')} pages of ≥ {c.get('objects')}"
                    if sc == "deep"
                    else f"{c.get('objects')}"
                )
                same = (
                    ""
                    if who == "admin"
                    else ", same ids as the admin's"
                    if c.get("same_as_admin")
                    else ", other ids than the admin's"
                )
                got.append(
                    f"{SCENARIO_LABEL[sc]} {what} objects{same} ({'/'.join(c.get('markings', []))})"
                )
            parts.append(f"{who}: " + ", ".join(got))
        util = ", ".join(f"{sc} {t['server_cpu_util']:.2f}" for sc, t in r.get("taxii", {}).items())
        lines.append(
            f"- {int(size):,} objects, what each caller got: {'; '.join(parts)}. Server CPU utilisation "
            f"during the interleaved phases (1.0 = one core): {util}."
        )
    lines += [
        "",
        "| Objects | Page | admin p50 / p99 | granted analyst p50 / p99 | non-granted reader p50 / p99 | "
        "store.query p50: access=None / admin / analyst / non-granted |",
        "|---|---|---|---|---|---|",
    ]
    for size, r in sorted(ac.get("filter", {}).items(), key=lambda kv: int(kv[0])):
        for sc in ("first", "type", "deep"):
            tx = r.get("taxii", {}).get(sc, {}).get("callers", {})
            lib = r.get("library", {}).get("scenarios", {}).get(sc, {})
            cells = [
                f"{ms(tx[c]['p50_ms'])} / {ms(tx[c]['p99_ms'])}" if c in tx else "—"
                for c in ("admin", "analyst", "outsider")
            ]
            libs = " / ".join(
                f"{lib[v]['p50_ms'] * 1000:,.0f} µs" if v in lib else "—"
                for v in ("unfiltered", "admin", "analyst", "outsider")
            )
            lines.append(f"| {int(size):,} | {SCENARIO_LABEL[sc]} | {' | '.join(cells)} | {libs} |")
    lines.append("")
    rd = ac.get("read")
    if rd:
        sent = rd.get("requests_sent", {})
        cpu = []
        for sc, x in rd.get("scenarios", {}).items():
            for mode in ("seq", "conc"):
                on, off = x["on"][mode], x["off"][mode]
                cpu.append(
                    f"{SCENARIO_LABEL[sc]} {'1' if mode == 'seq' else rd['connections']} conn. "
                    f"{on['server_cpu_ms_per_req']} vs {off['server_cpu_ms_per_req']} ms"
                )
        lines.append(
            f"- Audit on reads at {int(rd['size']):,} objects: {rd['audit_entries_added']:,} audit entries were added to "
            f"the store; the audit-on server answered {sent.get('on', 0):,} requests (warm-ups included), the audit-off "
            f"server {sent.get('off', 0):,}. Server CPU per request, on vs off (median of rounds; the audit thread's "
            f"batched writes included): {'; '.join(cpu)}."
        )
    lines.append("")
    return lines


def load_lines(results: dict[str, Any]) -> list[str]:
    load = results.get("load")
    if not load:
        return []
    line = (
        f"- Load average (1 min): {load['start']:.2f} at start, {load['max']:.2f} at most during the run, "
        f"{load['end']:.2f} at the end (sampled every {load['interval']:.0f} s)."
    )
    if load["max"] > 1.5:
        line += (
            " **Other work was running on this 2-core machine during the run; absolute numbers "
            "are lower and noisier than on an idle machine.**"
        )
    return [line]


def details(results: dict[str, Any]) -> list[str]:
    """Per server / size / scenario numbers, with the server's CPU time per request."""
    tx = results.get("taxii")
    if not tx:
        return []
    out = [
        "### TAXII details",
        "",
        "Server CPU is user + system time of the serving process tree over the phase, per request; "
        "utilisation is that CPU time over the phase's wall time (1.0 = one core busy).",
        "",
        "| Server | Objects | Scenario | 1 conn p50 | 1 conn p99 | 1 conn req/s | server CPU/req | "
        "N conn req/s | N conn p99 | server CPU/req | server util |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(d: dict[str, Any] | None, key: str, fmt: str) -> str:
        if not d or d.get(key) is None:
            return "—"
        return fmt.format(d[key])

    servers = [("Tansiq", tx.get("tansiq", {})), ("floor", tx.get("floor", {}))]
    m = tx.get("medallion")
    if m and "scenarios" in m:
        servers.append(("medallion", {str(m["size"]): m}))
    for name, by_size in servers:
        for size, r in sorted(by_size.items(), key=lambda kv: int(kv[0])):
            for sc in ("first", "type", "deep"):
                x = r.get("scenarios", {}).get(sc)
                if not x:
                    continue
                a, c = x.get("seq"), x.get("conc")
                out.append(
                    f"| {name} | {int(size):,} | {SCENARIO_LABEL[sc]} | {cell(a, 'p50_ms', '{:.2f} ms')} | "
                    f"{cell(a, 'p99_ms', '{:.2f} ms')} | {cell(a, 'rps', '{:,.0f}')} | "
                    f"{cell(a, 'server_cpu_ms_per_req', '{:.2f} ms')} | {cell(c, 'rps', '{:,.0f}')} | "
                    f"{cell(c, 'p99_ms', '{:.2f} ms')} | {cell(c, 'server_cpu_ms_per_req', '{:.2f} ms')} | "
                    f"{cell(c, 'server_cpu_util', '{:.2f}')} |"
                )
            w = r.get("walk")
            if w and name == "Tansiq" and w.get("seconds"):
                out.append(
                    f"| {name} | {int(size):,} | whole `next` walk ({w['pages']:,} pages) | — | — | "
                    f"{w['pages'] / w['seconds']:,.0f} | "
                    f"{cell(w, 'server_cpu_ms_per_req', '{:.2f} ms')} | — | — | — | — |"
                )
    out.append("")
    return out


def markdown(results: dict[str, Any], rows: list[Row], command: str, analysis: str | None) -> str:
    mc = results["machine"]
    met = sum(1 for r in rows if r.ok)
    missed = sum(1 for r in rows if r.ok is False)
    parts = [
        "# Tansiq performance",
        "",
        "Generated by the benchmark runner (bench/); do not edit by hand except the Analysis section.",
        "",
        "Command:",
        "",
        "```sh",
        command,
        "```",
        "",
        f"Run: {results['started']} → {results['finished']} ({results['elapsed_minutes']:.1f} min"
        + (", excluding one-time store builds" if results.get("store_build_note") else "")
        + f"). Targets met: {met}, missed: {missed}."
        + (
            " **Quick (smoke) run: small sizes, short phases — not the reference numbers.**"
            if results.get("quick")
            else ""
        ),
        "",
        "## Machine",
        "",
        f"- CPUs: {mc['nproc']} × {mc['cpu']}",
        f"- Memory: {mc['memory']}",
        f"- OS: {mc['os']}",
        f"- Python: {mc['python']}",
        f"- SQLite: {mc['sqlite']}",
        f"- Packages: {mc['packages']}",
        *load_lines(results),
        "",
        "## Results",
        "",
        "Ratios: vs stix2 and vs the validator are Tansiq ÷ baseline (higher is better); vs the import floor it is floor ÷ "
        "Tansiq (lower is better); for TAXII latency it is Tansiq ÷ floor, for throughput Tansiq as a share of the floor. "
        "Access filter: the caller's p50 ÷ the admin's for the same request (store.query: filtered ÷ unfiltered); audit log: "
        "throughput with it on ÷ off, cost = 1 − that.",
        "",
        markdown_table(rows),
        "",
        "## Missed targets",
        "",
        *(missed_notes(rows) or ["None."]),
        "",
        "## How it was measured",
        "",
        *methodology(results),
        *details(results),
        ANALYSIS_HEADING,
        "",
        analysis if analysis else ANALYSIS_PLACEHOLDER,
        "",
    ]
    return "\n".join(parts)


def existing_analysis(path: Path) -> str | None:
    """The Analysis section of an earlier performance.md, if someone wrote one."""
    try:
        text = path.read_text()
    except OSError:
        return None
    i = text.find("\n" + ANALYSIS_HEADING)
    if i < 0:
        return None
    body = text[i + len(ANALYSIS_HEADING) + 1 :].strip()
    if not body or body == ANALYSIS_PLACEHOLDER or re.fullmatch(r"<!--.*?-->", body, re.S):
        return None
    return body


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
