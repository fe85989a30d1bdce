"""Need-to-know costs (issue 3): the access filter and the audit log, each as a ratio
measured in the same run.

1. Access filter, TAXII: GET objects pages (limit=100: the first page,
   ``match[type]=indicator``, deep pages via ``next``) served by ``tansiq serve`` from the
   cached store, requested by three callers made with the CLI at build time
   (bench/tansiq_store.py ``ACCESS_USERS``):

   * ``admin``: an admin (the baseline: the same request, everything but TLP:RED);
   * ``analyst``: an analyst of an organisation granted read on the collection (it sees
     the same objects as the admin: neither wrote nor is named on the TLP:RED ones);
   * ``outsider``: an analyst of an organisation with no grant, reading the collection
     because it is public: TLP:CLEAR and TLP:GREEN only.

   The three callers' requests are interleaved on three keep-alive connections (one request
   at a time, the order rotating each round), so machine noise hits them alike. Deep pages:
   keyset positions spread over the second half of the collection; for each, the page
   after ``?added_after=<position>`` is reached through its ``next`` token, so every caller
   reads pages at the same depth.
2. Access filter, library: ``store.query`` for the same pages with ``Query(access=None)``
   and with each caller's Access, in a fresh process (bench/access_workers.py).
3. Audit on reads: two servers on the same store (bench/access_server.py), one with the read
   audit on, one with ``audit.record`` a no-op; the granted analyst's first page and deep
   pages, sequential and over N connections (bench/httpload.py), the two alternating in
   rounds.
4. Audit on imports: ``import_file`` with the CLI import's options vs the same options with
   ``audit=None``, each in a fresh process on a fresh database, alternating.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from bench import generate, httpload, procs, tansiq_store
from bench.taxii_bench import TAXII_ACCEPT

CALLERS = ("admin", "analyst", "outsider")
SCENARIOS = ("first", "type", "deep")
READ_SCENARIOS = ("first", "deep")
TLP_NAMES = {v: f"TLP:{k.upper()}" for k, v in generate.TLP_MARKINGS.items()}


@dataclass
class Budget:
    rounds: int  # interleaved TAXII rounds per scenario (one request per caller each)
    seconds: float  # time bound of those rounds
    deep_starts: int  # deep keyset positions (second half of the collection)
    lib_rounds: int  # interleaved store.query rounds per scenario
    lib_seconds: float
    read_rounds: int  # audit on/off alternations on reads
    read_seconds: float  # per phase (sequential, then concurrent)
    connections: int
    import_repeats: int  # per variant, bundles up to 50,000 objects
    import_repeats_large: int

    @classmethod
    def full(cls) -> Budget:
        return cls(1500, 20.0, 40, 3000, 8.0, 4, 5.0, 4, 5, 2)

    @classmethod
    def quick(cls) -> Budget:
        return cls(200, 3.0, 10, 400, 1.5, 2, 1.5, 4, 2, 1)


def _path_get(conn: httpload.Connection, path: str) -> tuple[dict[str, Any], bytes]:
    status, _, body = conn.get(path)
    if status != 200:
        raise httpload.HTTPError(f"GET {path} -> HTTP {status}: {body[:400]!r}")
    return orjson.loads(body), body


def deep_positions(database: str, collection_id: str, count: int) -> list[tuple[str, int]]:
    """``count`` keyset positions (date_added, seq) spread over the second half of the
    collection, stopping short of the end so that every caller still gets a full page."""
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        where = "FROM objects WHERE collection_id = ?"
        total = int(con.execute(f"SELECT COUNT(*) {where}", (collection_id,)).fetchone()[0])
        lo = total // 2
        hi = max(lo + 1, total - 600)
        picks = {lo + (hi - lo) * i // max(1, count) for i in range(count)}
        cur = con.execute(
            f"SELECT date_added, seq {where} ORDER BY date_added, seq LIMIT -1 OFFSET ?",
            (collection_id, lo),
        )
        return [(str(d), int(q)) for i, (d, q) in enumerate(cur, lo) if i in picks]
    finally:
        con.close()


def _markings(objs: list[dict[str, Any]]) -> list[str]:
    refs = {m for o in objs for m in (o.get("object_marking_refs") or ["unmarked"])}
    return sorted(TLP_NAMES.get(m, m) for m in refs)


def deep_paths(
    conn: httpload.Connection, base: str, positions: list[tuple[str, int]]
) -> tuple[list[str], list[list[str]], list[str]]:
    """For each position, the ``next`` URL of the page after ``added_after=<position>``;
    also the ids each of those pages holds and the markings seen on them."""
    paths: list[str] = []
    ids: list[list[str]] = []
    objs: list[dict[str, Any]] = []
    for added, _ in positions:
        start = f"{base}?limit=100&added_after={quote(added, safe='')}"
        data, _ = _path_get(conn, start)
        if not data.get("more") or not data.get("next"):
            continue
        path = f"{start}&next={quote(str(data['next']), safe='')}"
        page, _ = _path_get(conn, path)
        paths.append(path)
        ids.append([o.get("id") for o in page.get("objects", [])])
        objs.extend(page.get("objects", []))
    return paths, ids, _markings(objs)


def interleaved(
    port: int,
    headers: dict[str, dict[str, str]],
    paths: dict[str, list[str]],
    *,
    rounds: int,
    seconds: float,
    warmup: int = 20,
) -> dict[str, dict[str, Any]]:
    """Sequential latency of several callers, one request each per round, order rotating."""
    callers = list(headers)
    conns = {c: httpload.Connection(port, headers[c]) for c in callers}
    lat: dict[str, list[float]] = {c: [] for c in callers}
    nbytes = dict.fromkeys(callers, 0)
    clock = time.perf_counter
    try:
        for i in range(warmup):
            for c in callers:
                _path_get(conns[c], paths[c][i % len(paths[c])])
        deadline = clock() + seconds
        for i in range(rounds):
            k = i % len(callers)
            for c in callers[k:] + callers[:k]:
                path = paths[c][i % len(paths[c])]
                a = clock()
                status, _, body = conns[c].get(path)
                b = clock()
                if status != 200:
                    raise httpload.HTTPError(f"GET {path} -> HTTP {status}: {body[:300]!r}")
                lat[c].append(b - a)
                nbytes[c] += len(body)
            if clock() > deadline:
                break
    finally:
        for conn in conns.values():
            conn.close()
    out = {}
    for c in callers:
        s = sorted(lat[c])
        out[c] = httpload.LatencyStats(len(s), sum(s), s, body_bytes=nbytes[c]).summary()
    return out


# --------------------------------------------------------------------------- access filter


def filter_size(size: int, seed: int, b: Budget, work: Path, log: Any) -> dict[str, Any]:
    setup, meta = tansiq_store.cached_store(size, seed, log=log)
    users = meta["access"]
    positions = deep_positions(setup.database, setup.collection_id, b.deep_starts)
    result: dict[str, Any] = {
        "size": size,
        "callers": {k: {x: v[x] for x in ("user", "org", "role")} for k, v in users.items()},
        "deep_positions": len(positions),
    }

    log(f"  library: store.query unfiltered vs each caller's Access ({size:,} objects)")
    spec = {
        "collection": setup.alias,
        "users": {k: users[k]["user"] for k in CALLERS},
        "positions": positions,
        "rounds": b.lib_rounds,
        "seconds": b.lib_seconds,
        "warmup": 20,
    }
    done = procs.run(
        procs.python_module(
            "bench.access_workers", "query", setup.database, orjson.dumps(spec).decode()
        ),
        timeout=1800,
    )
    result["library"] = done.json()

    port = procs.free_port()
    cmd = procs.tansiq_command(
        "--database", setup.database, "serve", "--host", "127.0.0.1", "--port", str(port)
    )
    headers = {
        c: {"Accept": TAXII_ACCEPT, "Authorization": f"Bearer {users[c]['token']}"} for c in CALLERS
    }
    base = f"/{setup.api_root}/collections/{setup.collection_id}/objects/"
    fixed = {"first": f"{base}?limit=100", "type": f"{base}?limit=100&match[type]=indicator"}
    log(f"  TAXII: admin vs granted analyst vs non-granted reader, `tansiq serve` on port {port}")
    with procs.server(
        f"tansiq-access-{size}", cmd, port, log_dir=work / "logs", ready_timeout=180
    ) as srv:
        checks: dict[str, Any] = {}
        ids: dict[str, dict[str, list[Any]]] = {}
        paths: dict[str, dict[str, list[str]]] = {sc: {} for sc in SCENARIOS}
        for c in CALLERS:
            conn = httpload.Connection(port, headers[c])
            try:
                checks[c], ids[c] = {}, {}
                for sc, path in fixed.items():
                    data, _ = _path_get(conn, path)
                    objs = data.get("objects", [])
                    ids[c][sc] = [o.get("id") for o in objs]
                    checks[c][sc] = {"objects": len(objs), "more": data.get("more")}
                    checks[c][sc]["markings"] = _markings(objs)
                    paths[sc][c] = [path]
                dp, deep_ids, deep_marks = deep_paths(conn, base, positions)
                if not dp:
                    raise RuntimeError(f"no deep `next` pages for {c} on the {size:,} store")
                paths["deep"][c] = dp
                ids[c]["deep"] = deep_ids
                checks[c]["deep"] = {
                    "pages": len(dp),
                    "objects": min(len(x) for x in deep_ids),
                    "markings": deep_marks,
                }
            finally:
                conn.close()
        for c in CALLERS:
            for sc in SCENARIOS:
                checks[c][sc]["same_as_admin"] = ids[c][sc] == ids["admin"][sc]
        result["checks"] = checks
        result["taxii"] = {}
        for sc in SCENARIOS:
            log(f"    {sc}: {len(CALLERS)} callers interleaved, up to {b.rounds} rounds")
            c0 = srv.cpu_seconds()
            t0 = time.perf_counter()
            callers = interleaved(port, headers, paths[sc], rounds=b.rounds, seconds=b.seconds)
            wall = time.perf_counter() - t0
            result["taxii"][sc] = {
                "callers": callers,
                "server_cpu_util": round((srv.cpu_seconds() - c0) / wall, 2),
            }
    result["peak_rss"] = srv.peak_rss
    return result


# --------------------------------------------------------------------------- audit: reads


def _phase(
    srv: procs.Server, headers: dict[str, str], paths: list[str], b: Budget
) -> dict[str, Any]:
    port = srv.port
    c0 = srv.cpu_seconds()
    seq = httpload.sequential(
        port, headers, paths, max_requests=10**7, max_seconds=b.read_seconds, warmup=20
    )
    c1 = srv.cpu_seconds()
    conc = httpload.concurrent(
        port, headers, paths, connections=b.connections, seconds=b.read_seconds
    )
    c2 = srv.cpu_seconds()
    out = {"seq": seq.summary(), "conc": conc.summary()}
    out["sent"] = seq.count + min(20, seq.count) + conc.count + 3 * b.connections
    if seq.count:
        out["seq"]["server_cpu_ms_per_req"] = round((c1 - c0) * 1000 / seq.count, 3)
    if conc.count:
        out["conc"]["server_cpu_ms_per_req"] = round((c2 - c1) * 1000 / conc.count, 3)
    return out


def _pool(phases: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one variant/scenario/mode pooled: requests over seconds, median p50."""
    req = sum(p["requests"] for p in phases)
    sec = sum(p["seconds"] for p in phases)
    cpu = [p["server_cpu_ms_per_req"] for p in phases if "server_cpu_ms_per_req" in p]
    return {
        "requests": req,
        "seconds": round(sec, 3),
        "rps": round(req / sec, 1) if sec else float("nan"),
        "p50_ms": statistics.median(p["p50_ms"] for p in phases),
        "p99_ms": statistics.median(p["p99_ms"] for p in phases),
        "rounds_rps": [p["rps"] for p in phases],
        "server_cpu_ms_per_req": round(statistics.median(cpu), 3) if cpu else None,
        "errors": sum(p.get("errors", 0) for p in phases),
    }


def _audit_count(database: str) -> int:
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT COUNT(*) FROM audit").fetchone()[0])
    finally:
        con.close()


def read_audit(size: int, seed: int, b: Budget, work: Path, log: Any) -> dict[str, Any]:
    setup, meta = tansiq_store.cached_store(size, seed, log=log)
    user = meta["access"]["analyst"]
    headers = {"Accept": TAXII_ACCEPT, "Authorization": f"Bearer {user['token']}"}
    base = f"/{setup.api_root}/collections/{setup.collection_id}/objects/"
    positions = deep_positions(setup.database, setup.collection_id, b.deep_starts)
    before = _audit_count(setup.database)
    ports = {"on": procs.free_port(), "off": procs.free_port()}
    servers: dict[str, procs.Server] = {}
    sent = dict.fromkeys(ports, 0)  # every request each server answered, warm-ups included
    phases: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {
        v: {sc: {"seq": [], "conc": []} for sc in READ_SCENARIOS} for v in ports
    }
    log(f"  audit on reads: two servers on the {size:,}-object store (audit on / record no-op)")
    try:
        for v, port in ports.items():
            servers[v] = procs.Server(
                f"access-audit-{v}-{size}",
                procs.python_module("bench.access_server", setup.database, str(port), v),
                port,
                log_dir=work / "logs",
            )
        for srv in servers.values():
            srv.wait_ready(180)
        conn = httpload.Connection(ports["on"], headers)
        try:
            paths = {"first": [f"{base}?limit=100"], "deep": deep_paths(conn, base, positions)[0]}
        finally:
            conn.close()
        sent["on"] += 2 * len(paths["deep"])  # the `next` discovery went to the "on" server
        if not paths["deep"]:
            raise RuntimeError("no deep `next` pages for the audit read measurement")
        for r in range(b.read_rounds):
            order = ["on", "off"] if r % 2 == 0 else ["off", "on"]
            for v in order:
                for sc in READ_SCENARIOS:
                    log(
                        f"    round {r + 1}/{b.read_rounds}, audit {v}, {sc}: sequential + {b.connections} connections"
                    )
                    ph = _phase(servers[v], headers, paths[sc], b)
                    sent[v] += ph["sent"]
                    phases[v][sc]["seq"].append(ph["seq"])
                    phases[v][sc]["conc"].append(ph["conc"])
    finally:
        for srv in servers.values():
            srv.stop()  # SIGINT: the "on" server flushes its audit buffer on shutdown
    out: dict[str, Any] = {
        "size": size,
        "user": user["user"],
        "deep_pages": len(paths["deep"]),
        "audit_entries_added": _audit_count(setup.database) - before,
        "requests_sent": sent,
        "peak_rss": {v: s.peak_rss for v, s in servers.items()},
        "scenarios": {},
    }
    for sc in READ_SCENARIOS:
        out["scenarios"][sc] = {
            v: {m: _pool(phases[v][sc][m]) for m in ("seq", "conc")} for v in ports
        }
    out["connections"] = b.connections
    return out


# --------------------------------------------------------------------------- audit: imports


def import_audit(size: int, seed: int, b: Budget, work: Path, log: Any) -> dict[str, Any]:
    bundle = generate.ensure_bundle(size, seed, log=log)
    repeats = b.import_repeats if size <= 50_000 else b.import_repeats_large
    runs: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    db = work / "access-import" / "tansiq.db"
    log(f"  audit on imports: {size:,} objects, {repeats} run(s) each, alternating")
    for r in range(repeats):
        for v in ["on", "off"] if r % 2 == 0 else ["off", "on"]:
            setup = tansiq_store.fresh(db)
            done = procs.run(
                procs.python_module(
                    "bench.access_workers",
                    "import",
                    setup.database,
                    setup.alias,
                    setup.user,
                    str(bundle),
                    v,
                ),
                timeout=3 * 3600,
            )
            res = done.json() | {"peak_rss": done.peak_rss}
            res["rate"] = res["objects"] / res["seconds"]
            log(
                f"    audit {v}: {res['rate']:,.0f} objects/s ({res['audit_entries']} audit entries)"
            )
            runs[v].append(res)
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    out: dict[str, Any] = {"size": size, "bundle": bundle.name, "repeats": repeats}
    for v, rs in runs.items():
        rates = [x["rate"] for x in rs]
        med = statistics.median(rates)
        out[v] = {
            "rate": med,
            "rates": [round(x) for x in rates],
            "objects": rs[0]["objects"],
            "added": rs[0].get("added"),
            "invalid": rs[0].get("invalid"),
            "audit_entries": rs[0]["audit_entries"],
            "audit_detail_bytes": rs[0]["audit_detail_bytes"],
            "peak_rss": max(x["peak_rss"] for x in rs),
        }
    return out


# --------------------------------------------------------------------------- entry


def run(
    sizes: list[int], import_sizes: list[int], seed: int, b: Budget, work: Path, log: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"budget": b.__dict__, "filter": {}, "import": {}}
    for size in sizes:
        log(f"Access filter: {size:,}-object collection")
        out["filter"][str(size)] = filter_size(size, seed, b, work, log)
    log("Audit log: reads")
    out["read"] = read_audit(max(sizes), seed, b, work, log)
    log("Audit log: imports")
    for size in import_sizes:
        out["import"][str(size)] = import_audit(size, seed, b, work, log)
    return out
