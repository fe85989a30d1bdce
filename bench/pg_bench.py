"""PostgreSQL figures (issue 4): import, TAXII pages, ``serve --workers 2`` vs 1, memory.

The part starts its own throwaway cluster (bench/pg_cluster.py) and removes it at the end.
For each size (default 10,000 and 1,000,000 objects), on a fresh database in it:

1. Set-up with the CLI, as an operator would (``tansiq init``, ``org add``, ``user add``,
   ``collection add``), then the import: ``import_file`` with the options ``tansiq import``
   builds, in a fresh process (bench/pg_workers.py); objects/s over the call, the peak RSS
   of the writing process (``wait4``) and of the reader process that validates in
   parallel, and the CPU time of the writer, the reader and the PostgreSQL server.
   Baseline: the same worker importing the same bundle into a fresh SQLite store in the
   same run (a rate measured minutes apart on the same machine).
2. ``VACUUM ANALYZE`` of the new tables (what autovacuum does shortly after a bulk load;
   done here so that it does not land in the middle of a measurement), timed.
3. Two servers on that database at once: ``tansiq serve --workers 1`` and
   ``tansiq serve --workers 2`` (an idle server costs no CPU).
   * Latency through ``--workers 1``: the first page, ``match[type]=indicator`` and deep
     pages reached by following ``next`` (bench/taxii_bench.py's walk; second half of the
     collection), one keep-alive connection, p50/p99 (bench/httpload.py). Baseline: the
     same requests to ``tansiq serve`` on the SQLite store imported in step 1.
   * Read throughput: a mixed read load (first pages, type-filtered pages, deep ``next``
     pages in turn) on N keep-alive connections for a fixed time, alternately on the
     1-worker and the 2-worker server, several rounds (so background load hits both
     alike); ratio of the pooled requests/s. For each phase the CPU time of the serving
     processes (each worker separately), of the PostgreSQL server, of the load client
     (this process) and of the whole machine (/proc/stat) is recorded, which shows where
     the two cores went.
   * Serving memory: RSS and peak RSS (``VmHWM``) of each serving process after the load,
     summed over the workers.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg

from bench import generate, httpload, pg_cluster, pg_load, procs, tansiq_store
from bench.taxii_bench import TAXII_ACCEPT, walk

SCENARIOS = ("first", "type", "deep")


@dataclass
class Budget:
    seq_requests: int  # latency: requests per scenario (one connection)
    seq_seconds: float  # latency: time bound per scenario
    walk_seconds: float  # time bound of the `next` walk
    load_seconds: float  # throughput: length of one phase
    rounds: int  # throughput: alternations of the 1-worker and 2-worker servers
    connections: int  # throughput: concurrent keep-alive connections
    sqlite_baseline: bool = True  # import and latency on SQLite in the same run

    @classmethod
    def full(cls) -> Budget:
        return cls(2000, 15.0, 300.0, 10.0, 3, 8)

    @classmethod
    def quick(cls) -> Budget:
        return cls(300, 3.0, 20.0, 3.0, 1, 8)


# --------------------------------------------------------------------------- CPU and memory


def _tree(pid: int) -> list[Any]:
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of a process and its descendants, by pid."""
    import psutil

    out: dict[int, float] = {}
    for p in _tree(pid):
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
    return out


def tree_memory(pid: int) -> list[dict[str, Any]]:
    """RSS now and peak RSS (VmHWM) of each process of a serving tree, with its role."""
    out = []
    procs_ = _tree(pid)
    for p in procs_:
        rss = hwm = 0
        with contextlib.suppress(OSError), open(f"/proc/{p.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
        try:
            cmd = " ".join(p.cmdline())
        except Exception:
            cmd = ""
        if len(procs_) == 1:
            role = "worker"
        elif p.pid == pid:
            role = "supervisor"
        elif "multiprocessing" in cmd and ("spawn_main" in cmd or "fork" in cmd):
            role = "worker"
        else:
            role = "other"
        out.append({"pid": p.pid, "role": role, "rss": rss, "peak_rss": hwm})
    return out


def machine_jiffies() -> tuple[int, int, int]:
    """(busy, iowait, total) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as fh:
        vals = [int(x) for x in fh.readline().split()[1:9]]
    idle = vals[3] + vals[4]  # idle + iowait
    return sum(vals) - idle, vals[4], sum(vals)


class Meter:
    """CPU used during one load phase by: each serving process, PostgreSQL, the load
    client (this process, every thread) and the whole machine."""

    def __init__(self, server_pid: int | None, cluster: pg_cluster.Cluster | None) -> None:
        self.server_pid = server_pid
        self.cluster = cluster

    def __enter__(self) -> Meter:
        self.server0 = tree_cpu(self.server_pid) if self.server_pid else {}
        self.pg0 = self.cluster.cpu_seconds() if self.cluster else 0.0
        self.client0 = time.process_time()
        self.machine0 = machine_jiffies()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        server1 = tree_cpu(self.server_pid) if self.server_pid else {}
        self.server = {pid: server1[pid] - self.server0.get(pid, 0.0) for pid in server1}
        self.pg = (self.cluster.cpu_seconds() - self.pg0) if self.cluster else 0.0
        self.client = time.process_time() - self.client0
        busy1, iowait1, total1 = machine_jiffies()
        busy = busy1 - self.machine0[0]
        total = total1 - self.machine0[2]
        ncpu = os.cpu_count() or 1
        self.machine = busy / total * ncpu * self.wall if total > 0 else float("nan")
        self.iowait = (iowait1 - self.machine0[1]) / total * ncpu * self.wall if total > 0 else 0.0

    def summary(self, requests: int) -> dict[str, Any]:
        server = sum(self.server.values())
        per = 1000 / requests if requests else float("nan")
        rest = self.machine - server - self.pg - self.client
        busy_workers = sorted(
            (v for v in self.server.values() if v > 0.05 * self.wall), reverse=True
        )
        return {
            "wall": round(self.wall, 3),
            "cores": {  # average cores busy over the phase
                "server": round(server / self.wall, 3),
                "postgres": round(self.pg / self.wall, 3),
                "client": round(self.client / self.wall, 3),
                "other": round(rest / self.wall, 3),
                "machine": round(self.machine / self.wall, 3),
                "iowait": round(self.iowait / self.wall, 3),
            },
            "cpu_ms_per_req": {
                "server": round(server * per, 3),
                "postgres": round(self.pg * per, 3),
                "client": round(self.client * per, 3),
            },
            "server_processes_busy": [round(v / self.wall, 3) for v in busy_workers],
        }


# --------------------------------------------------------------------------- set-up


def setup_database(database: str) -> tansiq_store.Setup:
    """One organisation, one analyst and one public collection, made with the CLI (as
    bench/tansiq_store.py's ``fresh`` does for an SQLite file)."""
    cli = tansiq_store.cli_json
    cli(database, "init")
    cli(database, "org", "add", tansiq_store.ORG)
    user = cli(
        database, "user", "add", tansiq_store.USER, "--org", tansiq_store.ORG, "--role", "analyst"
    )
    coll = cli(
        database,
        "collection",
        "add",
        "Benchmark corpus",
        "--alias",
        tansiq_store.ALIAS,
        "--read",
        tansiq_store.ORG,
        "--write",
        tansiq_store.ORG,
        "--public",
    )
    if not user.get("token"):
        raise RuntimeError(f"`tansiq user add --json` returned no token: {user}")
    return tansiq_store.Setup(
        database=database,
        collection_id=coll["id"],
        alias=coll.get("alias") or tansiq_store.ALIAS,
        api_root=coll.get("api_root") or "default",
        user=tansiq_store.USER,
        token=user["token"],
    )


def measure_import(
    setup: tansiq_store.Setup,
    bundle: Path,
    cluster: pg_cluster.Cluster | None,
    log: Any,
    what: str,
) -> dict[str, Any]:
    with Meter(None, cluster) as m:
        done = procs.run(
            procs.python_module(
                "bench.pg_workers", "import", setup.database, setup.alias, setup.user, str(bundle)
            ),
            timeout=3 * 3600,
        )
    r = done.json()
    r["rate"] = r["objects"] / r["seconds"]
    r["process_peak_rss"] = done.peak_rss  # the larger of writer and reader (wait4)
    r["process_seconds"] = round(done.seconds, 3)
    r["postgres_cpu_seconds"] = round(m.pg, 3)
    r["machine"] = m.summary(r["objects"])["cores"]  # over the whole worker process
    bad = r.get("invalid", 0) + r.get("conflicts", 0)
    log(
        f"    {what}: {r['rate']:,.0f} objects/s ({r['objects']:,} in {r['seconds']:.1f}s, "
        f"{bad} rejected); CPU s: writer {r['writer_cpu_seconds']:.1f}, reader "
        f"{r['reader_cpu_seconds']:.1f}, PostgreSQL {m.pg:.1f}; machine {r['machine']['machine']:.2f} "
        f"cores busy, iowait {r['machine']['iowait']:.2f}; peak RSS writer "
        f"{r['writer_peak_rss'] / procs.MB:.0f} MB, reader {r['reader_peak_rss'] / procs.MB:.0f} MB"
    )
    return r


# --------------------------------------------------------------------------- serving


def serve_command(database: str, port: int, workers: int) -> list[str]:
    return procs.tansiq_command(
        "--database",
        database,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    )


def wait_http(port: int, headers: dict[str, str], path: str, timeout: float = 120) -> None:
    """Until the server answers ``path`` with 200 (workers may start after the socket)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        conn = httpload.Connection(port, headers, timeout=30)
        try:
            status, _, body = conn.get(path)
            if status == 200:
                return
            last = f"HTTP {status}: {body[:200]!r}"
        except OSError as exc:
            last = str(exc)
        finally:
            conn.close()
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} not ready within {timeout:.0f}s ({last})")


def _paths(setup: tansiq_store.Setup) -> dict[str, str]:
    base = f"/{setup.api_root}/collections/{setup.collection_id}/objects/"
    return {"first": f"{base}?limit=100", "type": f"{base}?limit=100&match[type]=indicator"}


def _headers(setup: tansiq_store.Setup) -> dict[str, str]:
    return {"Accept": TAXII_ACCEPT, "Authorization": f"Bearer {setup.token}"}


def latency(
    srv: procs.Server,
    setup: tansiq_store.Setup,
    b: Budget,
    log: Any,
    cluster: pg_cluster.Cluster | None,
) -> tuple[dict[str, Any], list[str]]:
    """First page, type page and deep pages on one connection; also the deep paths."""
    headers, paths = _headers(setup), _paths(setup)
    out: dict[str, Any] = {"scenarios": {}, "checks": {}}
    conn = httpload.Connection(srv.port, headers)
    try:
        for name, path in paths.items():
            status, _, body = conn.get(path)
            if status != 200:
                raise httpload.HTTPError(f"GET {path} -> HTTP {status}: {body[:300]!r}")
            data = orjson.loads(body)
            out["checks"][name] = {
                "objects": len(data.get("objects", [])),
                "more": data.get("more"),
                "types": sorted({o.get("type") for o in data.get("objects", [])}),
            }
    finally:
        conn.close()
    for name in ("first", "type"):
        with Meter(srv.proc.pid, cluster) as m:
            stats = httpload.sequential(
                srv.port,
                headers,
                [paths[name]],
                max_requests=b.seq_requests,
                max_seconds=b.seq_seconds,
            )
        out["scenarios"][name] = {"seq": stats.summary() | {"cpu": m.summary(stats.count)}}
    with Meter(srv.proc.pid, cluster) as m:
        w = walk(srv.port, headers, paths["first"], b.walk_seconds, log)
    deep_paths: list[str] = w.pop("deep_paths")
    deep_stats: httpload.LatencyStats = w.pop("deep_stats")
    w["cpu"] = m.summary(w["pages"])
    out["walk"] = w
    out["scenarios"]["deep"] = {"seq": deep_stats.summary()}
    return out, deep_paths


def mixed_paths(setup: tansiq_store.Setup, deep_paths: list[str], k: int = 60) -> list[str]:
    """First page, type page and a deep page in turn (``k`` deep pages spread over the
    second half of the collection)."""
    paths = _paths(setup)
    if not deep_paths:
        return [paths["first"], paths["type"]]
    step = max(1, len(deep_paths) // k)
    deep = deep_paths[::step][:k]
    out: list[str] = []
    for d in deep:
        out += [paths["first"], paths["type"], d]
    return out


#: The servers of the throughput comparison: label -> what it is.
VARIANTS = {
    "1": "tansiq serve --workers 1",
    "2": "tansiq serve --workers 2",
}


def throughput(
    servers: dict[str, procs.Server],
    setup: tansiq_store.Setup,
    paths: list[str],
    b: Budget,
    cluster: pg_cluster.Cluster,
    log: Any,
) -> dict[str, Any]:
    headers = _headers(setup)
    for srv in servers.values():  # warm every worker's connection pool and caches
        pids = [p["pid"] for p in tree_memory(srv.proc.pid) if p["role"] == "worker"]
        conns, _, _ = pg_load.balanced(srv.port, headers, paths[0], b.connections, pids)
        pg_load.run(conns, paths, 2.0)
    phases: dict[str, list[dict[str, Any]]] = {w: [] for w in servers}
    order = list(servers)
    for r in range(b.rounds):
        for workers in order if r % 2 == 0 else order[::-1]:
            srv = servers[workers]
            pids = [p["pid"] for p in tree_memory(srv.proc.pid) if p["role"] == "worker"]
            conns, spread, reopened = pg_load.balanced(
                srv.port, headers, paths[0], b.connections, pids
            )
            with Meter(srv.proc.pid, cluster) as m:
                stats = pg_load.run(conns, paths, b.load_seconds)
            if stats.errors:
                raise httpload.HTTPError(
                    f"{stats.errors} of {stats.count} requests failed on {VARIANTS[workers]}"
                )
            phase: dict[str, Any] = stats.summary() | {
                "cpu": m.summary(stats.count),
                "connections_per_worker": sorted(spread.values(), reverse=True),
                "reconnections": reopened,
            }
            phases[workers].append(phase)
            log(
                f"    round {r + 1}/{b.rounds}, {VARIANTS[workers]}: {stats.rps:,.0f} req/s, "
                f"p50 {stats.p50_ms:.2f} ms; cores: server {phase['cpu']['cores']['server']:.2f} "
                f"{phase['cpu']['server_processes_busy']}, postgres {phase['cpu']['cores']['postgres']:.2f}, "
                f"client {phase['cpu']['cores']['client']:.2f}, machine {phase['cpu']['cores']['machine']:.2f}; "
                f"connections per worker {phase['connections_per_worker']} ({reopened} reopened)"
            )
    out: dict[str, Any] = {"connections": b.connections, "paths": len(paths), "workers": {}}
    for workers, ph in phases.items():
        requests = sum(p["requests"] for p in ph)
        seconds = sum(p["seconds"] for p in ph)
        out["workers"][workers] = {
            "rps": round(requests / seconds, 1) if seconds else 0.0,
            "rounds_rps": [p["rps"] for p in ph],
            "p50_ms": statistics.median(p["p50_ms"] for p in ph),
            "p99_ms": statistics.median(p["p99_ms"] for p in ph),
            "phases": ph,
        }
    return out


@contextlib.contextmanager
def serving(
    name: str, database: str, variant: str, setup: tansiq_store.Setup, log_dir: Path
) -> Iterator[procs.Server]:
    port = procs.free_port()
    cmd = serve_command(database, port, int(variant))
    with procs.server(name, cmd, port, log_dir=log_dir, ready_timeout=180) as srv:
        wait_http(port, _headers(setup), _paths(setup)["first"])
        yield srv


# --------------------------------------------------------------------------- one size


def _sqlite_side(
    size: int,
    bundle: Path,
    b: Budget,
    work: Path,
    log: Any,
) -> dict[str, Any]:
    """The same import and the same latency requests on a fresh SQLite store."""
    db = work / "pg" / f"sqlite-{size}.db"
    out: dict[str, Any] = {}
    try:
        setup = tansiq_store.fresh(db, public=True)
        out["import"] = measure_import(setup, bundle, None, log, "SQLite import (baseline)")
        log("    SQLite: latency (tansiq serve, 1 process)")
        port = procs.free_port()
        cmd = procs.tansiq_command(
            "--database", setup.database, "serve", "--host", "127.0.0.1", "--port", str(port)
        )
        with procs.server(f"pg-sqlite-serve-{size}", cmd, port, log_dir=work / "logs") as srv:
            wait_http(port, _headers(setup), _paths(setup)["first"])
            lat, _ = latency(srv, setup, b, log, None)
        out["taxii"] = lat
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    return out


def one_size(
    cluster: pg_cluster.Cluster,
    size: int,
    seed: int,
    b: Budget,
    work: Path,
    log: Any,
) -> dict[str, Any]:
    bundle = generate.ensure_bundle(size, seed, log=log)
    name = f"bench_{size}"
    log(f"PostgreSQL: {size:,} objects ({bundle.stat().st_size / procs.MB:.0f} MB bundle)")
    url = cluster.create_database(name)
    res: dict[str, Any] = {"size": size, "bundle_bytes": bundle.stat().st_size}
    try:
        setup = setup_database(url)
        res["import"] = measure_import(setup, bundle, cluster, log, "PostgreSQL import")
        t0 = time.perf_counter()
        cluster.execute("VACUUM (ANALYZE)", name)
        res["vacuum_analyze_seconds"] = round(time.perf_counter() - t0, 2)
        res["database_bytes"] = cluster.database_bytes(name)
        log(
            f"    VACUUM ANALYZE in {res['vacuum_analyze_seconds']:.1f}s; database "
            f"{res['database_bytes'] / procs.MB:,.0f} MB"
        )
        logs = work / "logs"
        with contextlib.ExitStack() as stack:
            servers = {
                v: stack.enter_context(serving(f"pg-serve-{size}-w{v}", url, v, setup, logs))
                for v in VARIANTS
            }
            log("    latency through --workers 1")
            lat, deep_paths = latency(servers["1"], setup, b, log, cluster)
            res["taxii"] = lat
            res["deep_by_server"] = {
                v: httpload.sequential(
                    srv.port, _headers(setup), deep_paths or [_paths(setup)["first"]],
                    max_requests=min(500, b.seq_requests), max_seconds=min(5.0, b.seq_seconds),
                ).summary()
                for v, srv in servers.items()
            }  # fmt: skip
            log(
                "    deep pages, 1 connection, p50: "
                + ", ".join(f"{VARIANTS[v]} {x['p50_ms']:.2f} ms" for v, x in res["deep_by_server"].items())
            )  # fmt: skip
            paths = mixed_paths(setup, deep_paths)
            log(
                f"    throughput: mixed reads on {b.connections} connections, "
                f"{b.rounds} round(s) of {b.load_seconds:.0f}s per server"
            )
            res["throughput"] = throughput(servers, setup, paths, b, cluster, log)
            res["serving_memory"] = {v: tree_memory(srv.proc.pid) for v, srv in servers.items()}
            res["postgres_memory"] = cluster.memory_bytes()
        res["serve_command"] = (
            "tansiq --database URL serve --host 127.0.0.1 --port PORT --workers N"
        )
        if b.sqlite_baseline:
            res["sqlite"] = _sqlite_side(size, bundle, b, work, log)
    finally:
        cluster.drop_database(name)
    return res


def run(
    sizes: list[int],
    seed: int,
    b: Budget,
    work: Path,
    log: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {"sizes": {}, "budget": b.__dict__}
    for size in sizes:
        generate.ensure_bundle(size, seed, log=log)
    (work / "pg").mkdir(parents=True, exist_ok=True)
    out["server"] = {"version": pg_cluster.server_version(), "settings": pg_cluster.SETTINGS}
    out["psycopg"] = psycopg.__version__
    out["ncpu"] = os.cpu_count()
    with pg_cluster.Cluster.start(log) as cluster:
        for size in sizes:
            out["sizes"][str(size)] = one_size(cluster, size, seed, b, work, log)
    return out
