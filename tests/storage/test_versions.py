"""Contract: match[version] (first, last, all, exact and combinations) and delete_object."""

from __future__ import annotations

import orjson
import pytest

from tansiq.storage.base import Query, VersionFilter

from .conftest import ALL, FIRST, FIRST_LAST, LAST, World, exact, new_version, sco, sdo, sid

T1 = "2021-01-01T00:00:00.000Z"
T2 = "2021-02-01T00:00:00.000Z"
T3 = "2021-03-01T00:00:00.000Z"
T4 = "2021-04-01T00:00:00.000Z"


def versions(rows: list) -> list[tuple[str, str]]:
    return [(r.id, r.version) for r in rows]


@pytest.fixture
def three(world: World) -> tuple[World, str, str]:
    """Object ``a`` with versions T1, T2, T3 (posted in that order); ``b`` with T2 only."""
    a, b = sid("indicator"), sid("malware")
    world.write([sdo(a, T1, name="a1"), sdo(b, T2, name="b")])
    world.write([sdo(a, T2, name="a2")])
    world.write([sdo(a, T3, name="a3")])
    return world, a, b


def test_default_is_last(three: tuple[World, str, str]) -> None:
    world, a, b = three
    assert versions(world.query()) == [(b, T2), (a, T3)]
    assert Query(collection_id="x").versions == VersionFilter.default() == LAST


def test_first(three: tuple[World, str, str]) -> None:
    world, a, b = three
    assert versions(world.query(versions=FIRST)) == [(a, T1), (b, T2)]


def test_all(three: tuple[World, str, str]) -> None:
    world, a, b = three
    assert versions(world.query(versions=ALL)) == [(a, T1), (b, T2), (a, T2), (a, T3)]
    # all wins over everything else it is combined with
    combined = VersionFilter(first=True, last=True, all=True, exact=(T2,))
    assert versions(world.query(versions=combined)) == [(a, T1), (b, T2), (a, T2), (a, T3)]


def test_first_and_last_returns_each_row_once(three: tuple[World, str, str]) -> None:
    world, a, b = three
    # b has one version: it is both first and last but comes back once
    assert versions(world.query(versions=FIRST_LAST)) == [(a, T1), (b, T2), (a, T3)]


def test_exact(three: tuple[World, str, str]) -> None:
    world, a, b = three
    assert versions(world.query(versions=exact(T2))) == [(b, T2), (a, T2)]
    assert versions(world.query(versions=exact(T1, T3))) == [
        (a, T1),
        (a, T3),
    ]
    assert world.query(versions=exact(T4)) == []


def test_exact_with_first_and_last(three: tuple[World, str, str]) -> None:
    world, a, b = three
    last_and_t2 = VersionFilter(last=True, exact=(T2,))
    assert versions(world.query(versions=last_and_t2)) == [(b, T2), (a, T2), (a, T3)]
    first_and_t3 = VersionFilter(first=True, last=False, exact=(T3,))
    assert versions(world.query(versions=first_and_t3)) == [(a, T1), (b, T2), (a, T3)]


def test_empty_filter_means_last(three: tuple[World, str, str]) -> None:
    world, a, b = three
    nothing = VersionFilter(first=False, last=False, all=False, exact=())
    assert versions(world.query(versions=nothing)) == [(b, T2), (a, T3)]


def test_exact_matches_any_precision_of_the_same_instant(world: World) -> None:
    a = sid("indicator")
    world.write([sdo(a, "2020-01-01T00:00:00Z"), sdo(a, "2020-01-01T00:00:00.5Z")])
    for text in (
        "2020-01-01T00:00:00Z",
        "2020-01-01T00:00:00.0Z",
        "2020-01-01T00:00:00.000Z",
        "2020-01-01T00:00:00.000000Z",
        "2020-01-01T00:00:00.000000000Z",
    ):
        assert versions(world.query(versions=exact(text))) == [(a, "2020-01-01T00:00:00Z")]
    for text in (
        "2020-01-01T00:00:00.5Z",
        "2020-01-01T00:00:00.500Z",
        "2020-01-01T00:00:00.5000000Z",
    ):
        assert versions(world.query(versions=exact(text))) == [(a, "2020-01-01T00:00:00.5Z")]


def test_versions_ordered_by_instant_not_by_text(world: World) -> None:
    """``...00Z`` < ``...00.5Z`` < ``...01Z`` although 'Z' sorts after '.' and digits."""
    a = sid("indicator")
    world.write([sdo(a, "2020-01-01T00:00:00.5Z")])
    world.write([sdo(a, "2020-01-01T00:00:01Z")])
    world.write([sdo(a, "2020-01-01T00:00:00Z")])
    world.write([sdo(a, "2020-01-01T00:00:00.05Z")])
    assert [r.version for r in world.query(versions=FIRST)] == ["2020-01-01T00:00:00Z"]
    assert [r.version for r in world.query()] == ["2020-01-01T00:00:01Z"]


def test_sub_microsecond_versions_are_kept_apart(world: World) -> None:
    """Versions 100 ns apart are distinct: exact, first and last see the difference."""
    a = sid("indicator")
    t6, t7, t8 = (
        "2020-01-01T00:00:00.123456Z",
        "2020-01-01T00:00:00.1234567Z",
        "2020-01-01T00:00:00.12345671Z",
    )
    for t in (t7, t8, t6):
        assert [r.outcome for r in world.write([sdo(a, t, name=t)])] == ["added"]
    assert [r.version for r in world.query(versions=FIRST)] == [t6]
    assert [r.version for r in world.query()] == [t8]
    assert [r.version for r in world.query(versions=exact(t7))] == [t7]
    assert [r.version for r in world.query(versions=exact("2020-01-01T00:00:00.123456700Z"))] == [
        t7
    ]
    assert [r.version for r in world.query(versions=exact("2020-01-01T00:00:00.123456000Z"))] == [
        t6
    ]
    assert world.query(versions=exact("2020-01-01T00:00:00.1234568Z")) == []
    # a different body under one of them is still a conflict; the same body is unchanged
    assert [r.outcome for r in world.write([sdo(a, t7, name="other")])] == ["conflict"]
    assert [r.outcome for r in world.write([sdo(a, "2020-01-01T00:00:00.12345670Z", name=t7)])] == [
        "unchanged"
    ]
    assert world.store.delete_object(world.collection_id, a, exact(t8)) == 1
    assert [r.version for r in world.query()] == [t7]


# --------------------------------------------------------------------------- arrival order


@pytest.mark.parametrize(
    "order",
    [
        [T1, T2, T3, T4],
        [T4, T3, T2, T1],
        [T2, T4, T1, T3],
        [T3, T1, T4, T2],
    ],
)
def test_out_of_order_arrival_keeps_first_and_last(world: World, order: list[str]) -> None:
    a = sid("indicator")
    expected_first, expected_last = min(order), max(order)
    for i, t in enumerate(order):
        assert [r.outcome for r in world.write([sdo(a, t, name=t)])] == ["added"]
        seen = order[: i + 1]
        assert [r.version for r in world.query(versions=FIRST)] == [min(seen)]
        assert [r.version for r in world.query()] == [max(seen)]
    assert [r.version for r in world.query(versions=FIRST_LAST)] == sorted(
        {expected_first, expected_last}, key=order.index
    )
    assert [r.version for r in world.query(versions=ALL)] == order


@pytest.mark.parametrize("order", [[T2, T1, T4, T3], [T4, T1, T3, T2]])
def test_out_of_order_within_one_batch(world: World, order: list[str]) -> None:
    a, b = sid("indicator"), sid("indicator")
    objs = []
    for t in order:
        objs += [sdo(a, t, name=t), sdo(b, t, name=t)]
    assert [r.outcome for r in world.write(objs)] == ["added"] * 8
    assert versions(world.query(versions=FIRST)) == sorted(
        [(a, T1), (b, T1)], key=lambda p: (order.index(p[1]), p[0] != a)
    )
    assert versions(world.query()) == sorted(
        [(a, T4), (b, T4)], key=lambda p: (order.index(p[1]), p[0] != a)
    )
    assert len(world.query(versions=ALL)) == 8


def test_mixed_new_and_old_versions_across_batches(world: World) -> None:
    a = sid("indicator")
    world.write([sdo(a, T2)])
    # one batch: an older one, a repeat, a newer one
    results = world.write([sdo(a, T1), sdo(a, T2), sdo(a, T4)])
    assert [r.outcome for r in results] == ["added", "unchanged", "added"]
    world.write([sdo(a, T3)])
    assert [r.version for r in world.query(versions=FIRST)] == [T1]
    assert [r.version for r in world.query()] == [T4]


# --------------------------------------------------------------------------- delete_object


@pytest.fixture
def four(world: World) -> tuple[World, str, str]:
    """``a`` has T1..T4 (posted T2, T4, T1, T3); ``b`` has T1, T2."""
    a, b = sid("indicator"), sid("indicator")
    for t in (T2, T4, T1, T3):
        world.write([sdo(a, t, name=t)])
    world.write([sdo(b, T1), sdo(b, T2)])
    return world, a, b


def remaining(world: World, oid: str) -> list[str]:
    return sorted(r.version for r in world.query(ids=(oid,), versions=ALL))


def test_delete_last_recomputes_last(four: tuple[World, str, str]) -> None:
    world, a, b = four
    assert world.store.delete_object(world.collection_id, a, LAST) == 1
    assert remaining(world, a) == [T1, T2, T3]
    assert [r.version for r in world.query(ids=(a,))] == [T3]
    assert [r.version for r in world.query(ids=(a,), versions=FIRST)] == [T1]
    assert remaining(world, b) == [T1, T2]


def test_delete_first_recomputes_first(four: tuple[World, str, str]) -> None:
    world, a, b = four
    assert world.store.delete_object(world.collection_id, a, FIRST) == 1
    assert remaining(world, a) == [T2, T3, T4]
    assert [r.version for r in world.query(ids=(a,), versions=FIRST)] == [T2]
    assert [r.version for r in world.query(ids=(a,))] == [T4]


def test_delete_first_and_last(four: tuple[World, str, str]) -> None:
    world, a, _ = four
    assert world.store.delete_object(world.collection_id, a, FIRST_LAST) == 2
    assert remaining(world, a) == [T2, T3]
    assert [r.version for r in world.query(ids=(a,), versions=FIRST_LAST)] == [T2, T3]


def test_delete_exact_middle_and_then_the_extremes(four: tuple[World, str, str]) -> None:
    world, a, _ = four
    assert world.store.delete_object(world.collection_id, a, exact(T2)) == 1
    assert remaining(world, a) == [T1, T3, T4]
    assert [r.version for r in world.query(ids=(a,), versions=FIRST)] == [T1]
    assert [r.version for r in world.query(ids=(a,))] == [T4]
    assert world.store.delete_object(world.collection_id, a, exact(T1, T4)) == 2
    assert remaining(world, a) == [T3]
    assert [r.version for r in world.query(ids=(a,), versions=FIRST)] == [T3]
    assert [r.version for r in world.query(ids=(a,))] == [T3]


def test_delete_exact_in_another_precision(four: tuple[World, str, str]) -> None:
    world, a, _ = four
    key = "2021-03-01T00:00:00Z"
    assert world.store.delete_object(world.collection_id, a, exact(key)) == 1
    assert remaining(world, a) == [T1, T2, T4]


def test_delete_all_and_nothing_left(four: tuple[World, str, str]) -> None:
    world, a, b = four
    assert world.store.delete_object(world.collection_id, a, ALL) == 4
    assert remaining(world, a) == []
    assert world.query(ids=(a,), versions=FIRST) == []
    assert world.store.count_versions(world.collection_id) == 2
    assert world.store.delete_object(world.collection_id, a, ALL) == 0
    # what was deleted may be written again (it no longer exists)
    assert [r.outcome for r in world.write([sdo(a, T2, name="again")])] == ["added"]
    (row,) = world.query(ids=(a,), versions=FIRST_LAST)
    assert orjson.loads(row.json)["name"] == "again"


def test_delete_unknown_object_or_version_is_zero(four: tuple[World, str, str]) -> None:
    world, a, _ = four
    assert world.store.delete_object(world.collection_id, sid("indicator"), ALL) == 0
    assert world.store.delete_object(world.collection_id, a, exact("2021-04-01T00:00:01.000Z")) == 0
    assert world.store.count_versions(world.collection_id) == 6


def test_delete_then_write_keeps_flags_right(four: tuple[World, str, str]) -> None:
    world, a, _ = four
    world.store.delete_object(world.collection_id, a, LAST)  # T4 gone, last = T3
    world.write([sdo(a, "2021-03-15T00:00:00.000Z")])  # newer than T3: new last
    assert [r.version for r in world.query(ids=(a,))] == ["2021-03-15T00:00:00.000Z"]
    world.store.delete_object(world.collection_id, a, FIRST)  # T1 gone, first = T2
    world.write([sdo(a, "2021-01-15T00:00:00.000Z")])  # older than T2: new first
    assert [r.version for r in world.query(ids=(a,), versions=FIRST)] == [
        "2021-01-15T00:00:00.000Z"
    ]
    assert [r.version for r in world.query(ids=(a,))] == ["2021-03-15T00:00:00.000Z"]


def test_delete_is_per_collection(four: tuple[World, str, str]) -> None:
    world, a, _ = four
    other = world.new_collection()
    world.write([sdo(a, T1), sdo(a, T4)], other)
    assert world.store.delete_object(other, a, ALL) == 2
    assert remaining(world, a) == [T1, T2, T3, T4]
    assert world.store.delete_object(world.collection_id, a, ALL) == 4
    assert world.write([sdo(a, T1)], other)[0].outcome == "added"


def test_delete_with_spec_versions(world: World) -> None:
    a = sid("indicator")
    world.store.write_versions(
        world.collection_id,
        [
            new_version(sdo(a, T1), 0, spec_version="2.0"),
            new_version(sdo(a, T2), 1, spec_version="2.1"),
            new_version(sdo(a, T3), 2, spec_version="2.1"),
        ],
        writer=world.writer,
    )
    assert world.store.delete_object(world.collection_id, a, ALL, spec_versions=("2.0",)) == 1
    assert remaining(world, a) == [T2, T3]
    assert world.store.delete_object(world.collection_id, a, ALL, spec_versions=("2.0",)) == 0
    assert world.store.delete_object(world.collection_id, a, FIRST, ("2.1",)) == 1
    assert remaining(world, a) == [T3]


def test_delete_sco_versions(world: World) -> None:
    oid = sid("ipv4-addr")
    world.write([sco(oid, "192.0.2.1")])
    world.write([sco(oid, "192.0.2.2")])
    world.write([sco(oid, "192.0.2.3")])
    rows = world.rows()
    assert world.store.delete_object(world.collection_id, oid, LAST) == 1
    assert [r.seq for r in world.query()] == [rows[1].seq]
    assert world.store.delete_object(world.collection_id, oid, exact(rows[0].version)) == 1
    assert [r.seq for r in world.query(versions=FIRST_LAST)] == [rows[1].seq]
