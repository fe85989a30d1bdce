"""TAXII 2.1 GET objects through real servers on 127.0.0.1, limit=100.

Scenarios, each measured sequentially on one keep-alive connection (latency p50/p99 and
requests/s) and with several concurrent keep-alive connections (throughput):

* ``first``: the plain first page, ``?limit=100``;
* ``type``: ``?limit=100&match[type]=indicator``;
* ``deep``: pages reached by following ``next`` from the first page. The walk goes through
  the whole collection (bounded in time); its sequential numbers are the requests for the
  second half of the collection (middle to end). Throughput replays those deep ``next``
  URLs concurrently (Tansiq's tokens are stateless, so a token can be requested again;
  medallion's are server-side sessions consumed by use, so it has no deep throughput).

Servers: Tansiq (``tansiq serve``), the floor (bench/floor_app.py on the same uvicorn,
serving the exact bytes Tansiq returned) and medallion (memory backend under gunicorn).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from bench import generate, httpload, medallion_srv, procs, tansiq_store

SCENARIOS = ("first", "type", "deep")
TAXII_ACCEPT = "application/taxii+json;version=2.1"


@dataclass
class Budget:
    seq_requests: int
    seq_seconds: float
    conc_seconds: float
    connections: int
    walk_seconds: float
    medallion_request_budget: float  # seconds one medallion first-page request may take
    medallion_seq_requests: int
    medallion_seconds: float
    medallion_probe: int  # also time one medallion request at this size (0: skip)
    medallion_probe_timeout: float

    @classmethod
    def full(cls) -> Budget:
        return cls(2000, 15.0, 10.0, 4, 300.0, 3.0, 12, 45.0, 10_000, 600.0)

    @classmethod
    def quick(cls) -> Budget:
        return cls(300, 3.0, 3.0, 4, 20.0, 0.5, 3, 6.0, 0, 0.0)


def _summary(stats: httpload.LatencyStats) -> dict[str, Any]:
    return stats.summary()


def _page(conn: httpload.Connection, path: str) -> tuple[dict[str, Any], bytes, float]:
    t0 = time.perf_counter()
    status, _, body = conn.get(path)
    elapsed = time.perf_counter() - t0
    if status != 200:
        raise httpload.HTTPError(f"GET {path} -> HTTP {status}: {body[:400]!r}")
    return orjson.loads(body), body, elapsed


def walk(
    port: int, headers: dict[str, str], first: str, max_seconds: float, log: Any
) -> dict[str, Any]:
    """Follow ``next`` from ``first`` (which has a query string) to the end, or the time bound."""
    conn = httpload.Connection(port, headers)
    pages: list[tuple[float, int, str]] = []  # (latency, objects, path requested)
    path = first
    t0 = time.perf_counter()
    complete = False
    try:
        while True:
            data, _, elapsed = _page(conn, path)
            pages.append((elapsed, len(data.get("objects", [])), path))
            if len(pages) % 2000 == 0:
                log(f"    walked {len(pages):,} pages ({time.perf_counter() - t0:.0f}s)")
            if not data.get("more") or not data.get("next"):
                complete = True
                break
            if time.perf_counter() - t0 > max_seconds:
                break
            path = f"{first}&next={quote(str(data['next']), safe='')}"
    finally:
        conn.close()
    n = len(pages)
    deep = pages[n // 2 :] if n > 1 else pages
    lat = sorted(p[0] for p in deep)
    stats = httpload.LatencyStats(len(lat), sum(lat), lat)
    return {
        "pages": n,
        "objects": sum(p[1] for p in pages),
        "complete": complete,
        "seconds": round(time.perf_counter() - t0, 2),
        "deep_from_page": n // 2 + 1,
        "deep_paths": [p[2] for p in deep if "next=" in p[2]],
        "deep_stats": stats,
        "all_p50_ms": round(httpload.percentile(sorted(p[0] for p in pages), 50) * 1000, 3),
    }


def _deep_page_body(port: int, headers: dict[str, str], path: str) -> bytes:
    conn = httpload.Connection(port, headers)
    try:
        _, body, _ = _page(conn, path)
        return body
    finally:
        conn.close()


def with_cpu(srv: procs.Server, fn: Callable[[], httpload.LatencyStats]) -> dict[str, Any]:
    """Run a load phase; its summary plus the server's CPU time per request and utilisation."""
    c0 = srv.cpu_seconds()
    stats = fn()
    cpu = srv.cpu_seconds() - c0
    out = _summary(stats)
    if stats.count:
        out["server_cpu_ms_per_req"] = round(cpu * 1000 / stats.count, 3)
        out["server_cpu_util"] = round(cpu / stats.seconds, 2) if stats.seconds else None
    return out


def measure_paths(
    srv: procs.Server,
    headers: dict[str, str],
    paths: list[str],
    b: Budget,
    *,
    warmup: int = 20,
) -> dict[str, Any]:
    port = srv.port
    seq = with_cpu(
        srv,
        lambda: httpload.sequential(
            port,
            headers,
            paths,
            max_requests=b.seq_requests,
            max_seconds=b.seq_seconds,
            warmup=warmup,
        ),
    )
    conc = with_cpu(
        srv,
        lambda: httpload.concurrent(
            port, headers, paths, connections=b.connections, seconds=b.conc_seconds
        ),
    )
    return {"seq": seq, "conc": conc | {"connections": b.connections}}


# --------------------------------------------------------------------------- Tansiq


def tansiq_size(
    size: int, seed: int, b: Budget, work: Path, log: Any, rebuild: bool = False
) -> dict[str, Any]:
    setup, meta = tansiq_store.cached_store(size, seed, rebuild=rebuild, log=log)
    port = procs.free_port()
    cmd = procs.tansiq_command(
        "--database", setup.database, "serve", "--host", "127.0.0.1", "--port", str(port)
    )
    headers = {"Accept": TAXII_ACCEPT, "Authorization": f"Bearer {setup.token}"}
    base = f"/{setup.api_root}/collections/{setup.collection_id}/objects/"
    paths = {"first": f"{base}?limit=100", "type": f"{base}?limit=100&match[type]=indicator"}
    result: dict[str, Any] = {
        "size": size,
        "command": "tansiq --database DB serve --host 127.0.0.1 --port PORT",
        "store": {k: meta.get(k) for k in ("import", "import_seconds", "import_peak_rss", "built")},
        "scenarios": {},
    }
    pages: dict[str, bytes] = {}
    log(f"  Tansiq serving {size:,} objects on port {port}")
    with procs.server(
        f"tansiq-serve-{size}", cmd, port, log_dir=work / "logs", ready_timeout=180
    ) as srv:
        conn = httpload.Connection(port, headers)
        try:
            for name, path in paths.items():
                data, body, _ = _page(conn, path)
                pages[name] = body
                result.setdefault("checks", {})[name] = {
                    "objects": len(data.get("objects", [])),
                    "more": data.get("more"),
                    "has_next": bool(data.get("next")),
                    "types": sorted({o.get("type") for o in data.get("objects", [])}),
                }
        finally:
            conn.close()
        for name in ("first", "type"):
            log(f"    {name}: sequential + {b.connections} connections")
            result["scenarios"][name] = measure_paths(srv, headers, [paths[name]], b)
        log(f"    deep: walking `next` from the first page (bound {b.walk_seconds:.0f}s)")
        c0 = srv.cpu_seconds()
        w = walk(port, headers, paths["first"], b.walk_seconds, log)
        w["server_cpu_ms_per_req"] = round((srv.cpu_seconds() - c0) * 1000 / max(1, w["pages"]), 3)
        deep_paths = w.pop("deep_paths")
        deep_stats = w.pop("deep_stats")
        result["walk"] = w
        deep: dict[str, Any] = {"seq": _summary(deep_stats)}
        if deep_paths:
            pages["deep"] = _deep_page_body(port, headers, deep_paths[len(deep_paths) // 2])
            deep["conc"] = with_cpu(
                srv,
                lambda: httpload.concurrent(
                    port, headers, deep_paths, connections=b.connections, seconds=b.conc_seconds
                ),
            ) | {
                "connections": b.connections,
                "distinct_urls": len(deep_paths),
            }
        result["scenarios"]["deep"] = deep
        result["rss_end"] = srv.rss_now()
    result["peak_rss"] = srv.peak_rss
    result["_pages"] = pages
    result["_deep_paths"] = deep_paths
    return result


# --------------------------------------------------------------------------- floor


def floor_size(tansiq: dict[str, Any], b: Budget, work: Path, log: Any) -> dict[str, Any]:
    size = tansiq["size"]
    folder = work / f"floor-pages-{size}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in tansiq["_pages"].items():
        (folder / f"{name}.json").write_bytes(body)
    port = procs.free_port()
    cmd = procs.python_module(
        "uvicorn",
        "bench.floor_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    )
    headers = {"Accept": TAXII_ACCEPT, "Authorization": "Bearer x"}
    base = "/default/collections/floor/objects/"
    paths = {
        "first": [f"{base}?limit=100"],
        "type": [f"{base}?limit=100&match[type]=indicator"],
        "deep": tansiq["_deep_paths"] or [f"{base}?limit=100&next=x"],
    }
    result: dict[str, Any] = {
        "size": size,
        "scenarios": {},
        "page_bytes": {k: len(v) for k, v in tansiq["_pages"].items()},
    }
    log(f"  floor (precomputed pages of the {size:,}-object collection) on port {port}")
    with procs.server(
        f"floor-{size}", cmd, port, log_dir=work / "logs", env={"BENCH_FLOOR_PAGES": str(folder)}
    ) as srv:
        for name in SCENARIOS:
            result["scenarios"][name] = measure_paths(srv, headers, paths[name], b)
    result["peak_rss"] = srv.peak_rss
    return result


# --------------------------------------------------------------------------- medallion


def _medallion_first_latency(
    python: str, size: int, seed: int, work: Path, timeout: float, log: Any
) -> dict[str, Any]:
    port = procs.free_port()
    cfg = medallion_srv.write_config(work / "medallion", size, seed, port)
    with procs.server(
        f"medallion-probe-{size}",
        medallion_srv.command(python, cfg, port),
        port,
        log_dir=work / "logs",
        ready_timeout=300,
    ) as srv:
        conn = httpload.Connection(port, medallion_srv.auth_headers(), timeout=timeout)
        try:
            t0 = time.perf_counter()
            status, _, body = conn.get(medallion_srv.objects_path() + "?limit=100")
            seconds = time.perf_counter() - t0
            ok = status == 200
        except (TimeoutError, OSError) as exc:
            seconds, ok = time.perf_counter() - t0, False
            log(f"    no answer within {timeout:.0f}s ({exc.__class__.__name__})")
        finally:
            conn.close()
    return {
        "size": size,
        "seconds": round(seconds, 3),
        "finished": ok,
        "timeout": timeout,
        "peak_rss": srv.peak_rss,
    }


def medallion(target_size: int, seed: int, b: Budget, work: Path, log: Any) -> dict[str, Any]:
    python, versions = medallion_srv.python_for_medallion(log)
    out: dict[str, Any] = {
        "versions": versions,
        "server": medallion_srv.SERVER_DESCRIPTION,
        "target_size": target_size,
    }
    # Calibrate: medallion's memory backend does O(n^2) work per first page (a pairwise
    # spec_version filter, a manifest x objects join), so time one request on a small
    # collection and pick the largest size whose first page fits the per-request budget.
    probe = _medallion_first_latency(python, 300, seed, work, 120, log)
    per_n2 = probe["seconds"] / 300**2
    candidates = [
        s for s in (10_000, 5_000, 3_000, 2_000, 1_000, 500, 300) if s <= target_size
    ] or [300]
    size = next(
        (s for s in candidates if per_n2 * s * s <= b.medallion_request_budget), candidates[-1]
    )
    out["calibration"] = {"size": 300, "first_page_seconds": probe["seconds"], "chosen_size": size}
    log(
        f"  medallion: {probe['seconds']:.2f}s per first page at 300 objects -> measuring at {size:,} objects"
    )
    port = procs.free_port()
    cfg = medallion_srv.write_config(work / "medallion", size, seed, port)
    headers = medallion_srv.auth_headers()
    base = medallion_srv.objects_path()
    paths = {"first": f"{base}?limit=100", "type": f"{base}?limit=100&match[type]=indicator"}
    mb = Budget(
        seq_requests=b.medallion_seq_requests,
        seq_seconds=b.medallion_seconds,
        conc_seconds=b.medallion_seconds,
        connections=b.connections,
        walk_seconds=b.walk_seconds,
        medallion_request_budget=0,
        medallion_seq_requests=0,
        medallion_seconds=0,
        medallion_probe=0,
        medallion_probe_timeout=0,
    )
    out["size"] = size
    out["scenarios"] = {}
    with procs.server(
        f"medallion-{size}",
        medallion_srv.command(python, cfg, port),
        port,
        log_dir=work / "logs",
        ready_timeout=300,
    ) as srv:
        conn = httpload.Connection(port, headers)
        try:
            data, _, _ = _page(conn, paths["first"])
            out["checks"] = {"objects": len(data.get("objects", [])), "more": data.get("more")}
        finally:
            conn.close()
        for name in ("first", "type"):
            log(f"    {name}: sequential + {b.connections} connections")
            out["scenarios"][name] = measure_paths(srv, headers, [paths[name]], mb, warmup=1)
        log("    deep: walking `next` from the first page")
        w = walk(port, headers, paths["first"], b.walk_seconds, log)
        w.pop("deep_paths")
        out["walk"] = w
        out["scenarios"]["deep"] = {"seq": _summary(w.pop("deep_stats"))}
    out["peak_rss"] = srv.peak_rss
    est = out["scenarios"]["first"]["seq"]["p50_ms"] / 1000 * (target_size / size) ** 2
    out["extrapolated_first_page_seconds_at_target"] = round(est, 1)
    if b.medallion_probe and b.medallion_probe > size:
        log(
            f"  medallion: timing one first-page request at {b.medallion_probe:,} objects (≈{est:.0f}s expected, timeout {b.medallion_probe_timeout:.0f}s)"
        )
        out["probe"] = _medallion_first_latency(
            python, b.medallion_probe, seed, work, b.medallion_probe_timeout, log
        )
    return out


# --------------------------------------------------------------------------- entry


def run(
    sizes: list[int],
    seed: int,
    b: Budget,
    work: Path,
    log: Any,
    *,
    medallion_enabled: bool = True,
    rebuild: bool = False,
) -> dict[str, Any]:
    out: dict[str, Any] = {"sizes": sizes, "budget": b.__dict__, "tansiq": {}, "floor": {}}
    for size in sizes:
        generate.ensure_bundle(size, seed, log=log)
    for size in sizes:
        log(f"TAXII: {size:,}-object collection")
        t = tansiq_size(size, seed, b, work, log, rebuild=rebuild)
        out["floor"][str(size)] = floor_size(t, b, work, log)
        t.pop("_pages")
        t.pop("_deep_paths")
        out["tansiq"][str(size)] = t
    if medallion_enabled:
        log("TAXII: medallion baseline")
        try:
            out["medallion"] = medallion(min(sizes), seed, b, work, log)
        except Exception as exc:  # the baseline failing must not lose Tansiq's numbers
            log(f"  medallion failed: {exc}")
            out["medallion"] = {"error": str(exc)[:2000]}
    return out


if __name__ == "__main__":  # python -m bench.taxii_bench SIZE : a one-off run
    with contextlib.suppress(IndexError):
        n = int(sys.argv[1])
        print(
            orjson.dumps(
                run([n], generate.DEFAULT_SEED, Budget.quick(), generate.CACHE_DIR / "run", print),
                option=orjson.OPT_INDENT_2,
            ).decode()
        )
