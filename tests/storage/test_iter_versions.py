"""Contract: iter_versions yields every version of a collection, in order, in pages."""

from __future__ import annotations

import gc
import itertools
import tracemalloc
from collections.abc import Iterator

import pytest

from .conftest import World, sco, sdo, sid


@pytest.fixture
def filled(world: World) -> tuple[World, list[tuple[str, str | None]]]:
    """1,000 rows: new objects, later versions, older versions arriving late, SCOs."""
    posted: list[tuple[str, str | None]] = []
    ids = [sid("indicator") for _ in range(200)]
    for month in ("05", "07", "03", "09"):
        objs = [sdo(oid, f"2021-{month}-01T00:00:00.000Z") for oid in ids]
        world.write(objs)
        posted.extend((o["id"], o["modified"]) for o in objs)
    scos = [sco(value=f"10.0.{i // 250}.{i % 250}") for i in range(200)]
    world.write(scos)
    posted.extend((o["id"], None) for o in scos)
    world.write([sdo()], world.new_collection())  # another collection: never yielded
    return world, posted


@pytest.mark.parametrize("batch", [1, 7, 200, 1000, 1001, 5000])
def test_iter_versions_yields_every_version_in_order(
    filled: tuple[World, list[tuple[str, str | None]]], batch: int
) -> None:
    world, posted = filled
    it = world.store.iter_versions(world.collection_id, batch=batch)
    assert isinstance(it, Iterator)
    rows = list(itertools.islice(it, len(posted) + 1))
    assert len(rows) == len(posted) == world.store.count_versions(world.collection_id)
    assert [(r.id, r.version if r.type != "ipv4-addr" else None) for r in rows] == posted
    keys = [(r.date_added, r.seq) for r in rows]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert rows == world.rows()
    assert {r.collection_id for r in rows} == {world.collection_id}


def test_iter_versions_default_batch(filled: tuple[World, list[tuple[str, str | None]]]) -> None:
    world, posted = filled
    rows = itertools.islice(world.store.iter_versions(world.collection_id), len(posted) + 1)
    assert len(list(rows)) == len(posted)


def test_iter_versions_of_an_empty_collection(world: World) -> None:
    assert list(world.store.iter_versions(world.collection_id, batch=10)) == []
    assert list(world.store.iter_versions("no-such-collection")) == []


def test_iter_versions_is_lazy(world: World) -> None:
    """The first row comes before the rest is read; a write meanwhile breaks nothing.

    Whether a row written during the walk is yielded depends on the backend (a paging
    walk sees it at the end, a snapshot cursor does not); nothing is missed or repeated.
    """
    objs = [sdo(name=f"o{i}") for i in range(25)]
    world.write(objs)
    it = world.store.iter_versions(world.collection_id, batch=10)
    first = next(it)
    late = sdo(name="late")
    world.write([late])
    walked = [first.id] + [r.id for r in itertools.islice(it, 30)]
    assert walked in ([o["id"] for o in objs], [o["id"] for o in objs] + [late["id"]])


def test_iter_versions_memory_stays_bounded(world: World) -> None:
    """Walking 6,000 rows of ~2 KB (12 MB of JSON) never holds more than a few batches."""
    padding = "x" * 2000
    for start in range(0, 6000, 2000):
        world.write([sdo(name=f"o{start + i}", description=padding) for i in range(2000)])
    total_json = 6000 * 2000
    gc.collect()
    tracemalloc.start()
    try:
        count = 0
        walk = world.store.iter_versions(world.collection_id, batch=100)
        for row in itertools.islice(walk, 6001):
            count += 1
            assert len(row.json) > 2000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 6000
    # 100 rows of ~2.3 KB is ~0.25 MB; allow generous slack but far below the whole
    assert peak < total_json / 6, f"peak {peak} bytes"
