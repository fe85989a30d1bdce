"""Federation (issue 5): replicating a collection between two Tansiq instances on loopback.

    python -m bench federation                   # full run (~10 min once the stores are cached)
    python -m bench federation --quick           # smoke run, small sizes (~2 min)
    python -m bench federation --sizes 10k,100k --incremental 1m --rounds 5

Each instance is its own SQLite database served by ``tansiq serve`` (a real subprocess);
everything is set up with the CLI as an operator would (``org add``, ``user add --role
sync``, ``grant``, ``peer add``, ``peer map``). The syncing side runs in a fresh process
(bench/federation_worker.py) that calls what ``tansiq sync PEER --once`` calls; its peak
RSS comes from ``wait4``.

* Full replication at each size: A holds the generated corpus (bench/generate.py; the
  cached store of the TAXII part, copied). B pulls it from A (A serving), then A pushes it
  to another, empty B (B serving). Each direction is timed apart. The sync account of
  the other side sees what the outbound policy lets a peer have: every version except
  TLP:RED (5% of the corpus), which never leaves A.
* The floor: the same pages (same URL, limit and token) fetched from A by a bare httpx
  client, no validation and no writes: what the network and A's server cost.
* Incremental: A and B both hold the 1,000,000-object collection (copies of the cached
  store), cursors at its end; 100 new objects are written on A and B pulls them, then
  100 more and A pushes them to B (B serving); several rounds each.
* medallion (OASIS's reference server, memory backend) as the source of a pull at a small
  size, beside a pull from Tansiq of the same corpus.

Results go to bench/.cache/federation-latest.json and to the Federation section of
docs/performance.md (bench/federation_report.py), which the other parts' runs keep.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench import federation_report, generate, medallion_srv, procs, report, tansiq_store
from bench.loadwatch import LoadWatch

# The two sides' organisations, as each instance registers the other.
ORG_A, ORG_B = "agency-a", "agency-b"
PEER_A, PEER_B = "a", "b"  # B's name for A, A's name for B
SYNC_A, SYNC_B = "sync-a", "sync-b"  # A's account on B, B's account on A
REPLICA = "replica"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


@dataclass
class Budget:
    sizes: list[int] = field(default_factory=lambda: [10_000, 100_000])
    incremental: int = 1_000_000  # collection size of the incremental sync (0: skip)
    rounds: int = 5
    batch: int = 100
    medallion: int = 1_000  # objects medallion holds (0: skip)

    @classmethod
    def quick(cls) -> Budget:
        return cls(sizes=[2_000, 10_000], incremental=10_000, rounds=3, medallion=200)


# --------------------------------------------------------------------------- instances


@dataclass
class Instance:
    name: str
    database: str
    collection: str  # alias
    collection_id: str
    tokens: dict[str, str] = field(default_factory=dict)  # user -> token
    analyst: str = ""  # the user who writes new objects here
    port: int = 0

    @property
    def discovery(self) -> str:
        return f"http://127.0.0.1:{self.port}/taxii2/"

    def objects_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/default/collections/{self.collection_id}/objects/"


def cli(db: str, *args: str, stdin: str | None = None) -> dict[str, Any]:
    """``tansiq --database DB ARGS --json``; its JSON object."""
    cmd = procs.tansiq_command("--database", db, *args, "--json")
    done = procs.run(cmd, stdin=None if stdin is None else (stdin + "\n").encode(), timeout=600)
    if done.returncode != 0:
        raise RuntimeError(
            f"`tansiq {shlex.join(args)}` failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-2000:]}"
        )
    lines = [ln for ln in done.stdout.splitlines() if ln.strip().startswith("{")]
    return orjson.loads(lines[-1]) if lines else {}


def _copy_db(src: str, dst: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".peer-key"):
        Path(str(dst) + suffix).unlink(missing_ok=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    wal = Path(src + "-wal")
    if wal.exists() and wal.stat().st_size:
        shutil.copyfile(wal, str(dst) + "-wal")


def source_instance(size: int, seed: int, folder: Path, name: str) -> Instance:
    """A copy of the cached store of ``size`` objects, with B's organisation, its sync
    account and a read grant on the corpus collection."""
    setup, _ = tansiq_store.cached_store(size, seed, log=log)
    db = folder / f"{name}.db"
    _copy_db(setup.database, db)
    inst = Instance(name, str(db), setup.alias, setup.collection_id, analyst=setup.user)
    inst.tokens[setup.user] = setup.token
    cli(inst.database, "org", "add", ORG_B)
    user = cli(inst.database, "user", "add", SYNC_B, "--org", ORG_B, "--role", "sync")
    inst.tokens[SYNC_B] = user["token"]
    cli(inst.database, "grant", inst.collection, ORG_B, "--read")
    return inst


def replica_instance(folder: Path, name: str) -> Instance:
    """An empty instance: its own organisation (B), A's organisation, A's sync account
    (may write), and a collection ``replica`` both may read."""
    db = folder / f"{name}.db"
    for suffix in ("", "-wal", "-shm", ".peer-key"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    cli(str(db), "init")
    cli(str(db), "org", "add", ORG_B)
    cli(str(db), "org", "add", ORG_A)
    coll = cli(
        str(db),
        "collection", "add", "Replica of A", "--alias", REPLICA,
        "--read", ORG_B, "--write", ORG_B, "--read", ORG_A, "--write", ORG_A,
    )  # fmt: skip
    inst = Instance(name, str(db), REPLICA, coll["id"])
    user = cli(str(db), "user", "add", SYNC_A, "--org", ORG_A, "--role", "sync")
    inst.tokens[SYNC_A] = user["token"]
    return inst


def mirror_instance(size: int, seed: int, folder: Path, name: str) -> Instance:
    """B already holding A's collection (a copy of the same cached store), A's
    organisation and sync account granted read and write on it."""
    setup, _ = tansiq_store.cached_store(size, seed, log=log)
    db = folder / f"{name}.db"
    _copy_db(setup.database, db)
    inst = Instance(name, str(db), setup.alias, setup.collection_id)
    cli(inst.database, "org", "add", ORG_A)
    user = cli(inst.database, "user", "add", SYNC_A, "--org", ORG_A, "--role", "sync")
    inst.tokens[SYNC_A] = user["token"]
    cli(inst.database, "grant", inst.collection, ORG_A, "--read", "--write")
    return inst


def add_peer(
    local: Instance,
    peer: str,
    remote: Instance,
    org: str,
    token: str,
    *,
    pull: bool,
    remote_collection: str | None = None,
) -> None:
    """``peer add`` + ``peer map`` (checked against the running remote)."""
    cli(
        local.database, "peer", "add", peer, "--url", remote.discovery, "--org", org,
        "--token-stdin", stdin=token,
    )  # fmt: skip
    rc = remote_collection or remote.collection
    pair = f"{rc}:{local.collection}" if pull else f"{local.collection}:{rc}"
    cli(local.database, "peer", "map", peer, "--pull" if pull else "--push", pair)


def serve(inst: Instance, work: Path) -> procs.Server:
    inst.port = procs.free_port()
    cmd = procs.tansiq_command(
        "--database", inst.database, "serve", "--host", "127.0.0.1", "--port", str(inst.port)
    )
    srv = procs.Server(f"federation-{inst.name}", cmd, inst.port, log_dir=work / "logs")
    try:
        srv.wait_ready(180)
    except Exception:
        srv.stop()
        raise
    return srv


def count_versions(database: str, collection_id: str) -> int:
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return int(
            con.execute(
                "SELECT count(*) FROM objects WHERE collection_id = ?", (collection_id,)
            ).fetchone()[0]
        )
    finally:
        con.close()


def worker(*args: str, timeout: float = 3600) -> tuple[dict[str, Any], int]:
    done = procs.run(procs.python_module("bench.federation_worker", *args), timeout=timeout)
    return done.json(), done.peak_rss


def _with_server_cpu(srv: procs.Server, *args: str) -> dict[str, Any]:
    c0 = srv.cpu_seconds()
    out, rss = worker(*args)
    out["peak_rss"] = rss
    out["server_cpu_seconds"] = round(srv.cpu_seconds() - c0, 3)
    return out


def _rate(res: dict[str, Any]) -> float:
    return res["objects"] / res["seconds"] if res["seconds"] else 0.0


# --------------------------------------------------------------------------- measurements


def replicate(size: int, seed: int, work: Path, *, push: bool = True) -> dict[str, Any]:
    """Full replication of ``size`` objects: floor, pull (B from A), push (A to B')."""
    folder = work / f"federation-{size}"
    shutil.rmtree(folder, ignore_errors=True)
    a = source_instance(size, seed, folder, "a")
    b = replica_instance(folder, "b-pull")
    out: dict[str, Any] = {
        "size": size,
        "source_versions": count_versions(a.database, a.collection_id),
    }
    srv = serve(a, work)
    try:
        add_peer(b, PEER_A, a, ORG_A, a.tokens[SYNC_B], pull=True)
        log(f"  {size:,}: floor (bare GET of A's pages)")
        out["floor"] = _with_server_cpu(srv, "floor", a.objects_url(), a.tokens[SYNC_B], "1000")
        log(f"    {out['floor']['objects']:,} objects in {out['floor']['seconds']:.2f}s")
        log(f"  {size:,}: pull (B pulls from A)")
        out["pull"] = _with_server_cpu(srv, "sync", b.database, PEER_A)
        log(
            f"    {out['pull']['objects']:,} objects in {out['pull']['seconds']:.2f}s = {_rate(out['pull']):,.0f}/s"
        )
    finally:
        out["source_server_peak_rss"] = srv.stop()
    visible = out["floor"]["objects"]
    out["pull"]["stored"] = count_versions(b.database, b.collection_id)
    _check(out["pull"], visible, "pull")
    if push:
        b2 = replica_instance(folder, "b-push")
        srv = serve(b2, work)
        try:
            add_peer(a, PEER_B, b2, ORG_B, b2.tokens[SYNC_A], pull=False)
            log(f"  {size:,}: push (A pushes to B)")
            out["push"] = _with_server_cpu(srv, "sync", a.database, PEER_B)
            log(
                f"    {out['push']['objects']:,} objects in {out['push']['seconds']:.2f}s = {_rate(out['push']):,.0f}/s"
            )
        finally:
            out["target_server_peak_rss"] = srv.stop()
        out["push"]["stored"] = count_versions(b2.database, b2.collection_id)
        _check(out["push"], visible, "push")
    shutil.rmtree(folder, ignore_errors=True)
    return out


def _check(res: dict[str, Any], visible: int, what: str) -> None:
    m = res["report"]["mappings"][0]
    res["invalid"] = m["invalid"]
    problems = []
    if res["objects"] != visible:
        problems.append(f"moved {res['objects']} versions, the sync account sees {visible}")
    if res["stored"] != visible:
        problems.append(f"the receiving collection holds {res['stored']}, expected {visible}")
    if problems:
        raise RuntimeError(f"{what}: " + "; ".join(problems))


def _import_new(inst: Instance, user: str, tag: str, count: int, folder: Path) -> None:
    """``count`` new objects written on ``inst`` with ``tansiq import`` (the CLI rounds)."""
    from bench.federation_worker import new_objects

    path = folder / f"new-{tag}.json"
    objs = new_objects(tag, 0, count)
    path.write_bytes(
        orjson.dumps({"type": "bundle", "id": f"bundle--{objs[0]['id'][11:]}", "objects": objs})
    )
    done = procs.run(
        procs.tansiq_command(
            "--database", inst.database, "import", str(path), "--collection", inst.collection,
            "--user", user, "--json",
        )
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"tansiq import failed: {done.stderr.strip()[-1000:]}")


def _cli_sync(inst: Instance, peer: str, expected: int) -> dict[str, Any]:
    """``tansiq sync PEER --once --json`` in a new process: wall time, start-up included."""
    done = procs.run(
        procs.tansiq_command("--database", inst.database, "sync", peer, "--once", "--json")
    )
    if done.returncode != 0:
        raise RuntimeError(f"tansiq sync {peer} --once failed: {done.stderr.strip()[-1000:]}")
    rep = done.json()["reports"][0]
    added = sum(m["added"] for m in rep["mappings"])
    if added != expected:
        raise RuntimeError(f"tansiq sync {peer} --once added {added}, expected {expected}")
    return {"seconds": round(done.seconds, 3), "peak_rss": done.peak_rss, "added": added}


def incremental(size: int, seed: int, b: Budget, work: Path) -> dict[str, Any]:
    """Rounds of ``b.batch`` new objects into a ``size``-object collection, each way."""
    folder = work / f"federation-incremental-{size}"
    shutil.rmtree(folder, ignore_errors=True)
    log(f"  incremental: copying the {size:,}-object store twice")
    t0 = time.perf_counter()
    a = source_instance(size, seed, folder, "a")
    bb = mirror_instance(size, seed, folder, "b")
    out: dict[str, Any] = {
        "size": size,
        "batch": b.batch,
        "setup_seconds": round(time.perf_counter() - t0, 1),
        "collection_versions": count_versions(a.database, a.collection_id),
    }
    user = a.analyst
    srv = serve(a, work)
    try:
        add_peer(bb, PEER_A, a, ORG_A, a.tokens[SYNC_B], pull=True)
        log(f"  incremental pull: {b.rounds} rounds of {b.batch} new objects")
        res, rss = worker(
            "incremental", bb.database, PEER_A, a.database, a.collection, user,
            str(b.rounds), str(b.batch), "pull",
        )  # fmt: skip
        out["pull"] = res | {"peak_rss": rss}
        _import_new(a, user, "pull-cli", b.batch, folder)
        out["pull_cli"] = _cli_sync(bb, PEER_A, b.batch)
    finally:
        srv.stop()
    cli(bb.database, "peer", "remove", PEER_A)  # B serves next: no peer of its own to sync
    srv = serve(bb, work)
    try:
        add_peer(a, PEER_B, bb, ORG_B, bb.tokens[SYNC_A], pull=False)
        log(f"  incremental push: {b.rounds} rounds of {b.batch} new objects")
        res, rss = worker(
            "incremental", a.database, PEER_B, a.database, a.collection, user,
            str(b.rounds), str(b.batch), "push",
        )  # fmt: skip
        out["push"] = res | {"peak_rss": rss}
        _import_new(a, user, "push-cli", b.batch, folder)
        out["push_cli"] = _cli_sync(a, PEER_B, b.batch)
    finally:
        srv.stop()
    for d in ("pull", "push"):
        secs = [r["seconds"] for r in out[d]["rounds"]]
        log(
            f"    {d}: "
            + ", ".join(f"{s * 1000:.0f} ms" for s in secs)
            + f"; CLI {out[d + '_cli']['seconds']:.2f}s"
        )
    shutil.rmtree(folder, ignore_errors=True)
    return out


def medallion_pull(size: int, seed: int, work: Path) -> dict[str, Any]:
    """B pulls ``size`` objects from medallion (memory backend), then from Tansiq."""
    folder = work / f"federation-medallion-{size}"
    shutil.rmtree(folder, ignore_errors=True)
    python, versions = medallion_srv.python_for_medallion(log)
    port = procs.free_port()
    config = medallion_srv.write_config(folder, size, seed, port)
    med = Instance("medallion", "", medallion_srv.COLLECTION_ID, medallion_srv.COLLECTION_ID)
    med.port = port
    b = replica_instance(folder, "b-medallion")
    out: dict[str, Any] = {
        "size": size,
        "server": f"{versions}, {medallion_srv.SERVER_DESCRIPTION}",
    }
    srv = procs.Server(
        "federation-medallion", medallion_srv.command(python, config, port), port,
        log_dir=work / "logs",
    )  # fmt: skip
    try:
        srv.wait_ready(300)
        cli(
            b.database, "peer", "add", "medallion", "--url", med.discovery, "--org", ORG_A,
            "--user", medallion_srv.USER, "--password-stdin", stdin=medallion_srv.PASSWORD,
        )  # fmt: skip
        cli(b.database, "peer", "map", "medallion", "--pull", f"{med.collection}:{REPLICA}")
        log(f"  medallion: B pulls {size:,} objects from medallion")
        out["pull"] = _with_server_cpu(srv, "sync", b.database, "medallion")
        log(f"    {out['pull']['objects']:,} objects in {out['pull']['seconds']:.2f}s")
    finally:
        out["server_peak_rss"] = srv.stop()
    out["pull"]["stored"] = count_versions(b.database, b.collection_id)
    out["tansiq"] = replicate(size, seed, work, push=False)
    shutil.rmtree(folder, ignore_errors=True)
    return out


# --------------------------------------------------------------------------- runner


def run(b: Budget, seed: int, work: Path) -> dict[str, Any]:
    res: dict[str, Any] = {"budget": b.__dict__, "sizes": {}}
    for size in b.sizes:
        log(f"federation: full replication of {size:,} objects")
        res["sizes"][str(size)] = replicate(size, seed, work)
    if b.incremental:
        log(f"federation: incremental sync into {b.incremental:,} objects")
        res["incremental"] = incremental(b.incremental, seed, b, work)
    if b.medallion:
        log(f"federation: medallion as the source ({b.medallion:,} objects)")
        try:
            res["medallion"] = medallion_pull(b.medallion, seed, work)
        except Exception as exc:  # noqa: BLE001 - a missing baseline must not lose the run
            log(f"  medallion skipped: {exc}")
            res["medallion"] = {"size": b.medallion, "error": str(exc)[:500]}
    return res


def _sizes(text: str) -> list[int]:
    """ "10k,100k" -> [10000, 100000] (as the runner's --sizes)."""
    out = []
    for part in text.replace("_", "").lower().split(","):
        part = part.strip()
        if not part:
            continue
        mult = {"k": 1_000, "m": 1_000_000}.get(part[-1], 1)
        out.append(int(float(part.rstrip("km")) * mult))
    return sorted(set(out))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench federation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run, ~2 min)")
    ap.add_argument("--sizes", help="full-replication sizes (default 10k,100k)")
    ap.add_argument(
        "--incremental", help="collection size of the incremental sync (default 1m; 0 skips)"
    )
    ap.add_argument("--rounds", type=int, help="incremental rounds per direction (default 5)")
    ap.add_argument("--medallion", help="objects medallion holds (default 1000; 0 skips)")
    ap.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    ap.add_argument(
        "--out",
        type=Path,
        help="markdown report (default docs/performance.md; quick: bench/.cache/performance-quick.md)",
    )
    args = ap.parse_args(argv)
    b = Budget.quick() if args.quick else Budget()
    try:
        if args.sizes:
            b.sizes = _sizes(args.sizes)
        if args.incremental is not None:
            b.incremental = (_sizes(args.incremental) or [0])[0]
        if args.medallion is not None:
            b.medallion = (_sizes(args.medallion) or [0])[0]
    except ValueError:
        ap.error("sizes are numbers such as 10000, 10k or 1m")
    if args.rounds:
        b.rounds = args.rounds
    small = [s for s in [*b.sizes, b.incremental, b.medallion] if s and s < generate.MIN_SIZE]
    if small:
        ap.error(f"sizes must be at least {generate.MIN_SIZE}")
    command = shlex.join(["python", "-m", "bench", "federation", *argv])
    out_path = args.out or (
        generate.CACHE_DIR / "performance-quick.md"
        if args.quick
        else procs.ROOT / "docs" / "performance.md"
    )
    work = generate.CACHE_DIR / "run"
    work.mkdir(parents=True, exist_ok=True)

    t_prep = time.perf_counter()
    for s in sorted({*b.sizes, b.incremental, b.medallion} - {0}):
        tansiq_store.cached_store(s, args.seed, log=log)
    prep = time.perf_counter() - t_prep

    load = LoadWatch()
    started, t0 = report.now(), time.perf_counter()
    results: dict[str, Any] = {
        "command": command,
        "quick": args.quick,
        "seed": args.seed,
        "machine": report.machine(),
        "started": started,
        "preparation_seconds": round(prep, 1),
        "federation": run(b, args.seed, work),
    }
    results["federation"] |= {
        "started": started,
        "finished": report.now(),
        "elapsed_minutes": (time.perf_counter() - t0) / 60,
        "load": load.stop(),
    }
    rows = federation_report.rows(results["federation"])
    print()
    print(report.console_table(rows))
    print()
    for line in report.missed_notes(rows):
        print(line)
    raw = generate.CACHE_DIR / "federation-latest.json"
    raw.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2, default=str))
    federation_report.write_section(out_path, results, rows, command)
    log(f"wrote {out_path} and {raw} ({results['federation']['elapsed_minutes']:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
