"""Background jobs run once across processes, and are taken over when a holder dies —
on SQLite and on PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tansiq.jobs import Job, JobRunner
from tansiq.storage import open_store
from tansiq.storage.base import Store
from tests.storage import pg_support


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = str(tmp_path / "j.db")
        store = open_store(path)
        store.migrate()
        store.close()
        yield path
        return
    if pg_support.unavailable():
        pytest.skip(pg_support.unavailable() or "")
    with pg_support.database() as url:
        yield url


def _count(store: Store) -> None:
    n = int(store.get_setting("runs") or 0)
    store.set_setting("runs", str(n + 1))


def _compete(url: str, start: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    store = open_store(url)
    runner = JobRunner(store, [Job("count", interval=3600, run=_count)])
    while time.time() < start:
        time.sleep(0.001)
    out.put(runner.run_pending())
    store.close()


def test_two_processes_compete_and_the_job_runs_once(database: str) -> None:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    start = time.time() + 2.0
    procs = [ctx.Process(target=_compete, args=(database, start, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert sorted(len(r) for r in results) == [0, 1]
    store = open_store(database)
    assert store.get_setting("runs") == "1"
    store.close()


def _die_holding_the_lease(url: str) -> None:
    store = open_store(url)

    def crash(_store: Store) -> None:
        import os

        os._exit(9)  # killed mid-job: the lease is never released

    JobRunner(
        store, [Job("count", interval=3600, run=crash, lease=4.0)], holder="doomed"
    ).run_pending()


def test_a_killed_holder_is_taken_over_after_its_lease(database: str) -> None:
    proc = mp.get_context("spawn").Process(target=_die_holding_the_lease, args=(database,))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 9
    store = open_store(database)
    survivor = JobRunner(
        store, [Job("count", interval=3600, run=_count, lease=4.0)], holder="survivor"
    )
    assert survivor.run_pending() == []  # the dead holder's lease still runs
    time.sleep(4.3)
    assert survivor.run_pending() == ["count"]
    assert store.get_setting("runs") == "1"
    assert survivor.run_pending() == []  # not due again before its interval
    store.close()
