"""SQLite-only behaviour: WAL, migrations, several stores on one file, readers vs a writer."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta
from importlib import resources
from pathlib import Path

import pytest

from tansiq.errors import ConfigurationError
from tansiq.storage.base import ApiRoot, Principal, Query, StoredVersion
from tansiq.storage.sqlite import SQLiteStore

from .conftest import ALL, World, add_collection, add_org, new_version, query_all, sdo


def expected_migrations() -> list[str]:
    folder = resources.files("tansiq.storage").joinpath("migrations")
    names = [e.name for e in folder.iterdir() if e.name.endswith(".sql") and ".pg." not in e.name]
    return sorted(n.removesuffix(".sql") for n in names)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "tansiq.db"


@pytest.fixture
def sqlite_world(db: Path) -> Iterator[World]:
    store = SQLiteStore(db)
    store.migrate()
    org = add_org(store, "Agency A")
    user = store.add_user("alice", org.id, "analyst", None)
    root = store.add_api_root(ApiRoot("default", "Default"))
    coll = add_collection(store, "default")
    try:
        yield World(store, org, user, Principal(user, org), root, coll.id)
    finally:
        store.close()


def raw(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_wal_mode_is_on(sqlite_world: World, db: Path) -> None:
    assert raw(db, "PRAGMA journal_mode") == [("wal",)]


def test_migrations_are_recorded_and_idempotent(db: Path) -> None:
    names = expected_migrations()
    assert names, "no migration scripts found"
    store = SQLiteStore(db)
    try:
        assert store.migrate() == names
        recorded = raw(db, "SELECT name, applied_at FROM schema_migrations ORDER BY name")
        assert [r[0] for r in recorded] == names
        assert all(r[1] for r in recorded)
        secret = store.instance_secret()
        assert store.migrate() == []
        assert raw(db, "SELECT name, applied_at FROM schema_migrations ORDER BY name") == recorded
    finally:
        store.close()
    again = SQLiteStore(db, create=False)
    try:
        assert again.migrate() == []
        assert again.instance_secret() == secret
        assert raw(db, "SELECT count(*) FROM schema_migrations") == [(len(names),)]
    finally:
        again.close()


def test_opening_a_missing_file_without_create_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        SQLiteStore(tmp_path / "missing.db", create=False)


def test_data_survives_reopening(sqlite_world: World, db: Path) -> None:
    obj = sdo()
    sqlite_world.write([obj])
    sqlite_world.store.close()
    reopened = SQLiteStore(db, create=False)
    try:
        assert reopened.migrate() == []
        rows = query_all(reopened, Query(collection_id=sqlite_world.collection_id, versions=ALL))
        assert [r.id for r in rows] == [obj["id"]]
    finally:
        reopened.close()


def check_order(rows: list[StoredVersion]) -> None:
    stamps = [r.date_added for r in rows]
    assert all(a < b for a, b in zip(stamps, stamps[1:], strict=False))
    seqs = [r.seq for r in rows]
    # one writer at a time: commit order, seq order and date_added order are the same
    assert seqs == sorted(seqs)


def test_two_stores_on_one_file_both_writing(sqlite_world: World, db: Path) -> None:
    """Two SQLiteStore instances (as two processes would) write at the same time."""
    world = sqlite_world
    other = SQLiteStore(db, create=False)
    shared = [sdo(name=f"shared {i}") for i in range(60)]
    per_thread: dict[int, list[str]] = {0: [], 1: []}
    outcomes: dict[int, list[str]] = {0: [], 1: []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(n: int, store: SQLiteStore) -> None:
        try:
            start.wait()
            for b in range(80):
                objs = [sdo(name=f"t{n} b{b} o{i}") for i in range(6)]
                # both stores also post the same shared objects, in opposite orders
                s = shared[b % 60] if n == 0 else shared[59 - b % 60]
                batch = [new_version(o, i) for i, o in enumerate([*objs, s])]
                results = store.write_versions(world.collection_id, batch, writer=world.writer)
                assert [r.outcome for r in results[:-1]] == ["added"] * 6
                outcomes[n].append(results[-1].outcome)
                per_thread[n].extend(o["id"] for o in objs)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(0, world.store)),
        threading.Thread(target=writer, args=(1, other)),
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        for store in (world.store, other):
            rows = query_all(store, Query(collection_id=world.collection_id, versions=ALL))
            assert len(rows) == 2 * 80 * 6 + 60
            ids = [r.id for r in rows]
            assert len(set(ids)) == len(ids)
            assert set(ids) == set(per_thread[0]) | set(per_thread[1]) | {o["id"] for o in shared}
            # each thread's own rows keep its order
            for n in (0, 1):
                mine = set(per_thread[n])
                assert [i for i in ids if i in mine] == per_thread[n]
            check_order(rows)
        # every shared object was added exactly once (80 posts of 60 objects per thread)
        assert (outcomes[0] + outcomes[1]).count("added") == 60
        assert set(outcomes[0] + outcomes[1]) <= {"added", "unchanged"}
        assert other.count_versions(world.collection_id) == 2 * 80 * 6 + 60
    finally:
        other.close()


def test_alternating_stores_keep_date_added_increasing(sqlite_world: World, db: Path) -> None:
    world = sqlite_world
    other = SQLiteStore(db, create=False)
    try:
        written = []
        for i in range(200):
            store = world.store if i % 2 else other
            obj = sdo(name=f"o{i}")
            store.write_versions(world.collection_id, [new_version(obj)], writer=world.writer)
            written.append(obj["id"])
        rows = world.rows()
        assert [r.id for r in rows] == written
        check_order(rows)
    finally:
        other.close()


def test_readers_during_a_writer(sqlite_world: World, db: Path) -> None:
    """Reader threads (same store, and another store on the file) page while one writes."""
    world = sqlite_world
    other = SQLiteStore(db, create=False)
    world.write([sdo(name=f"seed {i}") for i in range(100)])
    done = threading.Event()
    errors: list[BaseException] = []
    passes: list[list[int]] = []
    counts: list[list[int]] = []
    lock = threading.Lock()

    def write() -> None:
        try:
            for b in range(120):
                world.write([sdo(name=f"w{b}.{i}") for i in range(10)])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            done.set()

    def read(store: SQLiteStore, limit: int) -> None:
        try:
            seen_counts: list[int] = []
            while not done.is_set():
                q = Query(collection_id=world.collection_id, limit=limit, versions=ALL)
                walk = [r.seq for r in query_all(store, q)]
                seen_counts.append(store.count_versions(world.collection_id))
                with lock:
                    passes.append(walk)
                walk = store.iter_versions(world.collection_id, batch=limit)
                walked = [r.seq for r in itertools.islice(walk, 5000)]
                with lock:
                    passes.append(walked)
            with lock:
                counts.append(seen_counts)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            done.set()

    threads = [threading.Thread(target=write)]
    threads += [threading.Thread(target=read, args=(world.store, n)) for n in (17, 50)]
    threads += [threading.Thread(target=read, args=(other, n)) for n in (23, 200)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        final = [r.seq for r in world.rows()]
        assert len(final) == 100 + 120 * 10
        assert passes, "readers never completed a pass"
        for walk in passes:
            # new rows only ever appear at the end: every walk is a prefix of the final order
            assert len(walk) >= 100
            assert walk == final[: len(walk)]
        for seen in counts:
            assert seen == sorted(seen)
    finally:
        other.close()


def test_date_added_never_goes_back_when_another_process_clock_is_behind(
    sqlite_world: World, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second process whose wall clock is an hour behind still dates its rows after
    everything already stored (the last date_added is shared through the file)."""
    import tansiq.clock

    world = sqlite_world
    world.write([sdo(name="first")])
    real_now = tansiq.clock.utc_now
    monkeypatch.setattr(tansiq.clock, "utc_now", lambda: real_now() - timedelta(hours=1))
    behind = SQLiteStore(db, create=False)
    try:
        obj = sdo(name="from the late process")
        behind.write_versions(world.collection_id, [new_version(obj)], writer=world.writer)
        rows = world.rows()
        assert [r.id for r in rows][-1] == obj["id"]
        check_order(rows)
    finally:
        behind.close()
