"""PostgreSQL only: concurrent writers versus cursors, and race-free write decisions.

On PostgreSQL, transactions can commit in another order than the one in which they took
their date_added/seq. A TAXII client (or a federation pull) that pages with ``next`` and
then resumes with ``added_after`` must nevertheless never miss a version nor see one
twice. These tests stall writers between taking their stamps and committing, run several
writer processes while readers page, and check exactly what every reader saw.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from tansiq.storage.base import ApiRoot, Principal, Query, StoredVersion, VersionFilter

from . import pg_support
from .conftest import add_collection, add_org, new_version, sco, sdo

pytestmark = pytest.mark.skipif(
    pg_support.unavailable() is not None, reason=pg_support.unavailable() or ""
)

ALL = VersionFilter(all=True, last=False)


@dataclass
class Setup:
    url: str
    user_id: int
    collection_id: str


@pytest.fixture
def setup() -> Iterator[Setup]:
    from tansiq.storage.postgres import PostgresStore

    with pg_support.database() as url:
        store = PostgresStore(url)
        try:
            store.migrate()
            org = add_org(store, "Agency A")
            user = store.add_user("alice", org.id, "analyst", None)
            store.add_api_root(ApiRoot("default", "Default"))
            coll = add_collection(store, "default", write_orgs=frozenset({org.id}))
        finally:
            store.close()
        yield Setup(url, user.id, coll.id)


def open_store(url: str) -> Any:
    from tansiq.storage.postgres import PostgresStore

    return PostgresStore(url)


def writer_of(store: Any, user_id: int) -> Principal:
    user = store.get_user(user_id)
    return Principal(user, store.get_org(user.org_id))


def every_row(store: Any, collection_id: str) -> list[StoredVersion]:
    return list(store.iter_versions(collection_id, batch=500))


def keys(rows: list[StoredVersion]) -> list[tuple[str, int]]:
    return [(r.date_added, r.seq) for r in rows]


# --------------------------------------------------------------------------- pagers


class Pager:
    """A client polling a collection: ``next`` pages to the end, then ``added_after`` the
    last date_added it saw (the TAXII way to resume), again and again until stopped; a
    last full pass after ``stop`` is set."""

    def __init__(self, store: Any, collection_id: str, limit: int, resume: str) -> None:
        self.store = store
        self.collection_id = collection_id
        self.limit = limit
        self.resume = resume  # "added_after" or "next" (keyset position only)
        self.seen: list[StoredVersion] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.passes = 0

    def one_pass(self) -> None:
        if self.resume == "added_after":
            last = self.seen[-1].date_added if self.seen else None
            q = Query(self.collection_id, limit=self.limit, added_after=last, versions=ALL)
        else:
            pos = (self.seen[-1].date_added, self.seen[-1].seq) if self.seen else None
            q = Query(self.collection_id, limit=self.limit, after=pos, versions=ALL)
        while True:
            page = self.store.query(q)
            self.seen.extend(page.rows)
            if not page.more:
                break
            q = replace(q, after=page.next_position)
        self.passes += 1

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.one_pass()
            self.one_pass()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def start(self) -> threading.Thread:
        t = threading.Thread(target=self.run, daemon=True)
        t.start()
        return t


def check_saw_everything_once(pager: Pager, rows: list[StoredVersion]) -> None:
    assert pager.error is None, pager.error
    got = keys(pager.seen)
    assert len(set(got)) == len(got), "a version was seen twice"
    assert got == sorted(got), "versions came out of (date_added, seq) order"
    missed = set(keys(rows)) - set(got)
    assert not missed, f"{len(missed)} versions missed by a {pager.resume} pager"
    assert got == keys(rows)


# --------------------------------------------------------------------------- forced order


def stall_once(entered: threading.Event, release: threading.Event) -> Callable[[], None]:
    """A before_commit hook: the first commit it sees waits for ``release``."""
    fired = [False]

    def hook() -> None:
        if not fired[0]:
            fired[0] = True
            entered.set()
            release.wait(10)

    return hook


def run_stalled_and_late_writer(setup: Setup) -> dict[str, Any]:
    """Writer A takes its stamps then stalls before COMMIT; writer B writes meanwhile; a
    reader pages in between and resumes with added_after after both are done."""
    a_store, b_store, reader = (open_store(setup.url) for _ in range(3))
    try:
        writer = writer_of(a_store, setup.user_id)
        entered, release = threading.Event(), threading.Event()
        a_store.before_commit = stall_once(entered, release)
        a_objs = [sdo(name=f"a{i}") for i in range(5)]
        b_objs = [sdo(name=f"b{i}") for i in range(5)]
        done: dict[str, float] = {}

        def write(store: Any, objs: list[dict[str, Any]], name: str) -> None:
            store.write_versions(
                setup.collection_id, [new_version(o, i) for i, o in enumerate(objs)], writer=writer
            )
            done[name] = time.monotonic()

        ta = threading.Thread(target=write, args=(a_store, a_objs, "a"))
        ta.start()
        assert entered.wait(10)
        tb = threading.Thread(target=write, args=(b_store, b_objs, "b"))
        tb.start()
        tb.join(0.5)  # B commits now unless something holds it back
        pager = Pager(reader, setup.collection_id, limit=3, resume="added_after")
        pager.one_pass()  # what a client sees while A is stalled
        seen_during_stall = [r.id for r in pager.seen]
        released = time.monotonic()
        release.set()
        ta.join(10)
        tb.join(10)
        pager.one_pass()  # the client resumes with added_after
        return {
            "during": seen_during_stall,
            "pager": pager,
            "rows": every_row(reader, setup.collection_id),
            "a": {o["id"] for o in a_objs},
            "b": {o["id"] for o in b_objs},
            "b_done_after_release": done["b"] >= released,
        }
    finally:
        for s in (a_store, b_store, reader):
            s.close()


def test_a_writer_stalled_before_commit_holds_back_later_writers(setup: Setup) -> None:
    got = run_stalled_and_late_writer(setup)
    assert got["during"] == []  # neither A (uncommitted) nor B (waiting for A) visible
    assert got["b_done_after_release"]
    rows: list[StoredVersion] = got["rows"]
    assert [r.id in got["a"] for r in rows] == [True] * 5 + [False] * 5  # A's stamps first
    check_saw_everything_once(got["pager"], rows)


# --------------------------------------------------------------------------- many processes


def _writer_process(url: str, user_id: int, collection_id: str, seed: int, batches: int) -> None:
    rng = random.Random(seed)
    store = open_store(url)
    try:
        store.before_commit = lambda: time.sleep(rng.choice((0, 0, 0.001, 0.005, 0.02)))
        writer = writer_of(store, user_id)
        mine: list[dict[str, Any]] = []
        for b in range(batches):
            objs: list[dict[str, Any]] = []
            for _ in range(rng.randint(1, 25)):
                roll = rng.random()
                if mine and roll < 0.3:  # a new version of one of ours
                    old = rng.choice(mine)
                    objs.append(
                        dict(
                            old,
                            modified=f"2022-01-01T00:00:{b % 60:02d}.{rng.randint(0, 999999):06d}Z",
                        )
                    )
                elif roll < 0.4:
                    objs.append(sco(value=f"10.{seed % 250}.{b % 250}.{rng.randint(0, 250)}"))
                else:
                    objs.append(sdo(name=f"p{seed}.{b}"))
            mine.extend(o for o in objs if o["type"] == "indicator")
            store.write_versions(
                collection_id, [new_version(o, i) for i, o in enumerate(objs)], writer=writer
            )
            time.sleep(rng.choice((0, 0, 0.002)))
    finally:
        store.close()


def test_many_writer_processes_and_pagers_miss_and_repeat_nothing(setup: Setup) -> None:
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(
            target=_writer_process,
            args=(setup.url, setup.user_id, setup.collection_id, seed, 40),
        )
        for seed in range(4)
    ]
    reader = open_store(setup.url)
    pagers = [
        Pager(reader, setup.collection_id, limit=7, resume="added_after"),
        Pager(reader, setup.collection_id, limit=50, resume="added_after"),
        Pager(reader, setup.collection_id, limit=11, resume="next"),
    ]
    try:
        threads = [p.start() for p in pagers]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
            assert p.exitcode == 0
        for pager in pagers:
            pager.stop.set()
        for t in threads:
            t.join(60)
        rows = every_row(reader, setup.collection_id)
        assert len(rows) > 400
        stamps = [r.date_added for r in rows]
        assert all(a < b for a, b in zip(stamps, stamps[1:], strict=False))
        for pager in pagers:
            assert pager.passes > 2  # really polled while the writers wrote
            check_saw_everything_once(pager, rows)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        reader.close()


# --------------------------------------------------------------------------- write decisions


def _post_process(
    url: str, user_id: int, collection_id: str, objs: list[dict[str, Any]], seed: int, out: Any
) -> None:
    rng = random.Random(seed)
    store = open_store(url)
    try:
        store.before_commit = lambda: time.sleep(rng.choice((0, 0.001, 0.005)))
        writer = writer_of(store, user_id)
        order = list(objs)
        rng.shuffle(order)
        outcomes: dict[str, int] = {}
        for start in range(0, len(order), 15):
            chunk = order[start : start + 15]
            for r in store.write_versions(
                collection_id, [new_version(o, i) for i, o in enumerate(chunk)], writer=writer
            ):
                outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
        out.put(outcomes)
    finally:
        store.close()


def test_concurrent_posts_of_the_same_versions_store_each_once(setup: Setup) -> None:
    """Identical versions posted by several processes at once: stored once, the rest
    "unchanged"; a different body under one version: stored once, the rest conflicts."""
    shared = [sdo(name=f"shared{i}") for i in range(60)]
    contested = [sdo(name="contested") for _ in range(20)]
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = []
    for k in range(3):
        mine = shared + [dict(o, name=f"writer {k}") for o in contested]
        procs.append(
            ctx.Process(
                target=_post_process,
                args=(setup.url, setup.user_id, setup.collection_id, mine, k, out),
            )
        )
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    totals: dict[str, int] = {}
    for r in results:
        for k, v in r.items():
            totals[k] = totals.get(k, 0) + v
    assert totals == {"added": 80, "unchanged": 120, "conflict": 40}
    reader = open_store(setup.url)
    try:
        rows = every_row(reader, setup.collection_id)
        assert len(rows) == 80
        assert len({(r.id, r.version) for r in rows}) == 80
        assert len(reader.list_conflicts(limit=1000)) == 40
    finally:
        reader.close()
