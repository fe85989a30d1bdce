"""Background jobs run once across processes, and are taken over when a holder dies."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

from tansiq.jobs import Job, JobRunner
from tansiq.storage.sqlite import SQLiteStore


def _count(store: SQLiteStore) -> None:
    n = int(store.get_setting("runs") or 0)
    store.set_setting("runs", str(n + 1))


def _compete(path: str, start: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    store = SQLiteStore(path)
    runner = JobRunner(store, [Job("count", interval=3600, run=_count)])
    while time.time() < start:
        time.sleep(0.001)
    out.put(runner.run_pending())


def test_two_processes_compete_and_the_job_runs_once(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    SQLiteStore(path).migrate()
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    start = time.time() + 1.5
    procs = [ctx.Process(target=_compete, args=(str(path), start, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert sorted(len(r) for r in results) == [0, 1]
    assert SQLiteStore(path).get_setting("runs") == "1"


def _die_holding_the_lease(path: str) -> None:
    store = SQLiteStore(path)

    def crash(_store: SQLiteStore) -> None:
        import os

        os._exit(9)  # killed mid-job: the lease is never released

    JobRunner(
        store, [Job("count", interval=3600, run=crash, lease=1.0)], holder="doomed"
    ).run_pending()


def test_a_killed_holder_is_taken_over_after_its_lease(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    store = SQLiteStore(path)
    store.migrate()
    proc = mp.get_context("spawn").Process(target=_die_holding_the_lease, args=(str(path),))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 9
    survivor = JobRunner(
        store, [Job("count", interval=3600, run=_count, lease=1.0)], holder="survivor"
    )
    assert survivor.run_pending() == []  # the dead holder's lease still runs
    time.sleep(1.2)
    assert survivor.run_pending() == ["count"]
    assert store.get_setting("runs") == "1"
    assert survivor.run_pending() == []  # not due again before its interval
