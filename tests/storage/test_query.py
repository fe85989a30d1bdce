"""Contract: query filters and keyset paging over (date_added, seq)."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, replace

import pytest

from tansiq.stix.timestamps import timestamp_key
from tansiq.storage.base import Page, Query, StoredVersion, VersionFilter

from .conftest import (
    ALL,
    FIRST,
    FIRST_LAST,
    LAST,
    MAX_PAGES,
    World,
    exact,
    new_version,
    sco,
    sdo,
    sid,
)


def ids_of(rows: list[StoredVersion]) -> list[str]:
    return [r.id for r in rows]


def pages(world: World, query: Query, between: object = None) -> list[Page]:
    """Every page of ``query``; ``between(n)`` runs after page n (e.g. more writes)."""
    out: list[Page] = []
    q = query
    while True:
        page = world.store.query(q)
        out.append(page)
        if callable(between):
            between(len(out))
        if not page.more:
            return out
        assert page.next_position is not None
        assert q.after is None or page.next_position > q.after, "paging does not advance"
        q = replace(q, after=page.next_position)
        assert len(out) < MAX_PAGES, "paging does not end"


def check_page_shapes(got: list[Page], limit: int) -> None:
    for page in got[:-1]:
        assert page.more is True
        assert len(page.rows) == limit
        assert page.next_position == (page.rows[-1].date_added, page.rows[-1].seq)
        assert page.first_added == page.rows[0].date_added
        assert page.last_added == page.rows[-1].date_added
    last = got[-1]
    assert last.more is False
    assert last.next_position is None
    assert len(last.rows) <= limit


# --------------------------------------------------------------------------- filters


@pytest.fixture
def mixed(world: World) -> tuple[World, list[dict]]:
    """Indicators, malware, an attack pattern and SCOs, one version each, in this order."""
    objs = [
        sdo(stix_type="indicator", name="i1"),
        sdo(stix_type="malware", name="m1", is_family=False),
        sco(value="192.0.2.1"),
        sdo(stix_type="indicator", name="i2"),
        sdo(stix_type="attack-pattern", name="ap"),
        sco(value="192.0.2.2"),
        sdo(stix_type="malware", name="m2", is_family=True),
    ]
    world.write(objs)
    world.write([sdo(stix_type="indicator", name="elsewhere")], world.new_collection())
    return world, objs


def test_no_filter_returns_every_object_in_order(mixed: tuple[World, list[dict]]) -> None:
    world, objs = mixed
    assert ids_of(world.query()) == [o["id"] for o in objs]
    page = world.store.query(Query(collection_id=world.collection_id))
    assert page.more is False
    assert page.next_position is None


def test_ids_filter(mixed: tuple[World, list[dict]]) -> None:
    world, objs = mixed
    assert ids_of(world.query(ids=(objs[3]["id"],))) == [objs[3]["id"]]
    wanted = (objs[6]["id"], objs[0]["id"], objs[2]["id"])
    assert ids_of(world.query(ids=wanted)) == [objs[0]["id"], objs[2]["id"], objs[6]["id"]]
    assert world.query(ids=(sid("indicator"),)) == []


def test_ids_filter_does_not_reach_other_collections(world: World) -> None:
    shared = sdo()
    other = world.new_collection()
    world.write([shared], other)
    assert world.query(ids=(shared["id"],)) == []
    assert ids_of(world.query(other, ids=(shared["id"],))) == [shared["id"]]


def test_types_filter(mixed: tuple[World, list[dict]]) -> None:
    world, objs = mixed
    assert ids_of(world.query(types=("indicator",))) == [objs[0]["id"], objs[3]["id"]]
    assert ids_of(world.query(types=("malware", "ipv4-addr"))) == [
        objs[1]["id"],
        objs[2]["id"],
        objs[5]["id"],
        objs[6]["id"],
    ]
    assert world.query(types=("campaign",)) == []


def test_ids_and_types_together(mixed: tuple[World, list[dict]]) -> None:
    world, objs = mixed
    got = world.query(ids=(objs[0]["id"], objs[1]["id"]), types=("malware",))
    assert ids_of(got) == [objs[1]["id"]]


def test_spec_versions_filter(world: World) -> None:
    old = sdo(name="stix 2.0")
    new = sdo(name="stix 2.1")
    world.store.write_versions(
        world.collection_id,
        [new_version(old, 0, spec_version="2.0"), new_version(new, 1, spec_version="2.1")],
        writer=world.writer,
    )
    assert ids_of(world.query(spec_versions=("2.0",))) == [old["id"]]
    assert ids_of(world.query(spec_versions=("2.1",))) == [new["id"]]
    assert ids_of(world.query(spec_versions=("2.0", "2.1"))) == [old["id"], new["id"]]
    assert [r.spec_version for r in world.query(versions=ALL)] == ["2.0", "2.1"]
    # without a spec_version filter each object is returned in its latest spec version,
    # which for an object that only exists in 2.0 is 2.0
    assert ids_of(world.query()) == [old["id"], new["id"]]
    assert world.rows()[0].manifest_entry()["media_type"] == "application/stix+json;version=2.0"


def test_default_spec_version_is_the_latest_of_each_object(world: World) -> None:
    """Query.spec_versions empty means "latest spec version of each object only"."""
    a = sid("indicator")
    world.store.write_versions(
        world.collection_id,
        [
            new_version(sdo(a, "2021-01-01T00:00:00.000Z"), 0, spec_version="2.0"),
            new_version(sdo(a, "2021-02-01T00:00:00.000Z"), 1, spec_version="2.1"),
        ],
        writer=world.writer,
    )
    got = world.query(versions=ALL)
    assert [(r.version, r.spec_version) for r in got] == [("2021-02-01T00:00:00.000Z", "2.1")]
    both = world.query(versions=ALL, spec_versions=("2.0", "2.1"))
    assert [r.spec_version for r in both] == ["2.0", "2.1"]


def test_default_spec_version_never_hides_an_object(world: World) -> None:
    """An object whose newest version is in an older spec (e.g. relayed by a STIX 2.0 peer
    after a 2.1 version) is still listed by an unfiltered query: in its latest spec
    version (2.1), whose last version is the 2.1 one."""
    a, b = sid("indicator"), sid("indicator")
    world.store.write_versions(
        world.collection_id,
        [
            new_version(sdo(a, "2021-01-01T00:00:00.000Z"), 0, spec_version="2.1"),
            new_version(sdo(a, "2021-02-01T00:00:00.000Z"), 1, spec_version="2.0"),
            new_version(sdo(b, "2021-01-01T00:00:00.000Z"), 2, spec_version="2.1"),
        ],
        writer=world.writer,
    )
    assert [(r.id, r.version, r.spec_version) for r in world.query()] == [
        (a, "2021-01-01T00:00:00.000Z", "2.1"),
        (b, "2021-01-01T00:00:00.000Z", "2.1"),
    ]
    assert [r.version for r in world.query(ids=(a,), spec_versions=("2.0", "2.1"))] == [
        "2021-02-01T00:00:00.000Z"
    ]


def test_added_after_is_strictly_after(mixed: tuple[World, list[dict]]) -> None:
    world, objs = mixed
    rows = world.rows()
    for k, row in enumerate(rows):
        expected = [o["id"] for o in objs[k + 1 :]]
        assert ids_of(world.query(added_after=row.date_added)) == expected
        assert ids_of(world.query(added_after=timestamp_key(row.date_added))) == expected
    assert ids_of(world.query(added_after=timestamp_key("2000-01-01T00:00:00Z"))) == [
        o["id"] for o in objs
    ]
    assert world.query(added_after=timestamp_key("2999-01-01T00:00:00Z")) == []


def test_added_after_with_versions(world: World) -> None:
    a = sid("indicator")
    world.write([sdo(a, "2021-01-01T00:00:00.000Z")])
    mark = world.rows()[-1].date_added
    world.write([sdo(a, "2021-02-01T00:00:00.000Z")])
    world.write([sdo(a, "2020-12-01T00:00:00.000Z")])  # an older version arrives late
    assert [r.version for r in world.query(added_after=mark, versions=ALL)] == [
        "2021-02-01T00:00:00.000Z",
        "2020-12-01T00:00:00.000Z",
    ]
    assert [r.version for r in world.query(added_after=mark)] == ["2021-02-01T00:00:00.000Z"]
    assert [r.version for r in world.query(added_after=mark, versions=FIRST)] == [
        "2020-12-01T00:00:00.000Z"
    ]


def test_unknown_collection_is_empty(world: World) -> None:
    world.write([sdo()])
    page = world.store.query(Query(collection_id="00000000-0000-4000-8000-000000000000", limit=5))
    assert page == Page(rows=[], more=False, next_position=None)
    assert page.first_added is None
    assert page.last_added is None


# --------------------------------------------------------------------------- paging


@pytest.fixture
def three_thousand(world: World) -> tuple[World, list[str]]:
    types = ("indicator", "malware", "attack-pattern")
    objs = [sdo(stix_type=types[i % 3], name=f"o{i}") for i in range(3000)]
    world.write(objs[:1700])
    world.write(objs[1700:])
    return world, [o["id"] for o in objs]


@pytest.mark.parametrize("limit", [1, 7, 100, 1000, 2999, 3000, 3001])
def test_paging_through_thousands_misses_and_repeats_nothing(
    three_thousand: tuple[World, list[str]], limit: int
) -> None:
    world, written = three_thousand
    got = pages(world, Query(collection_id=world.collection_id, limit=limit))
    check_page_shapes(got, limit)
    seen = [r.id for p in got for r in p.rows]
    assert seen == written
    assert len(got) == -(-3000 // limit)


@pytest.mark.parametrize("limit", [7, 100])
def test_paging_with_a_type_filter(three_thousand: tuple[World, list[str]], limit: int) -> None:
    world, written = three_thousand
    q = Query(collection_id=world.collection_id, limit=limit, types=("malware",))
    got = pages(world, q)
    check_page_shapes(got, limit)
    assert [r.id for p in got for r in p.rows] == written[1::3]


def test_paging_an_empty_collection(world: World) -> None:
    page = world.store.query(Query(collection_id=world.collection_id, limit=10))
    assert page == Page(rows=[], more=False, next_position=None)


def test_paging_stays_exact_while_objects_are_written_between_pages(world: World) -> None:
    initial = [sdo(name=f"i{i}") for i in range(500)]
    world.write(initial)
    added: list[str] = []

    def write_more(n: int) -> None:
        if n <= 20:  # stop after a while so that paging can reach the end
            objs = [sdo(name=f"late{n}.{j}") for j in range(13)]
            world.write(objs)
            added.extend(o["id"] for o in objs)

    got = pages(world, Query(collection_id=world.collection_id, limit=37), write_more)
    check_page_shapes(got, 37)
    seen = [r.id for p in got for r in p.rows]
    assert seen == [o["id"] for o in initial] + added
    assert len(set(seen)) == len(seen) == 500 + 20 * 13


def test_paging_last_versions_while_new_versions_arrive(world: World) -> None:
    """Every object is seen; a newer version written mid-way shows up at the end."""
    objs = [sdo(modified="2021-01-01T00:00:00.000Z", name=f"o{i}") for i in range(300)]
    world.write(objs)
    rng = random.Random(7)
    bumped: list[str] = []

    def new_versions(n: int) -> None:
        if n <= 10:
            chosen = rng.sample(objs, 5)
            world.write([dict(o, modified=f"2021-01-{n + 1:02d}T00:00:00.000Z") for o in chosen])
            bumped.extend(o["id"] for o in chosen)

    got = pages(world, Query(collection_id=world.collection_id, limit=25), new_versions)
    rows = [r for p in got for r in p.rows]
    keys = [(r.date_added, r.seq) for r in rows]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert {r.id for r in rows} == {o["id"] for o in objs}
    # what the walk saw last for each object is that object's last version now
    final_last = {r.id: r.version for r in world.query()}
    walked: dict[str, str] = {}
    for r in rows:
        walked[r.id] = r.version
    assert walked == final_last
    assert rows[-1].id in bumped


def test_paging_survives_deletes_between_pages(world: World) -> None:
    """The position is a key, not a row: deleting the row it names (or others) between
    pages neither skips nor repeats the rows that remain."""
    objs = [sdo(name=f"o{i}") for i in range(200)]
    world.write(objs)
    deleted: set[str] = set()
    rng = random.Random(11)
    seen: list[str] = []
    q = Query(collection_id=world.collection_id, limit=9)
    while True:
        page = world.store.query(q)
        seen.extend(r.id for r in page.rows)
        if not page.more:
            break
        # delete the row the position names, plus one random not-yet-seen object
        for oid in {page.rows[-1].id, rng.choice(objs)["id"]} - deleted:
            assert world.store.delete_object(world.collection_id, oid, ALL) == 1
            deleted.add(oid)
        q = replace(q, after=page.next_position)
        assert len(seen) <= 200
    assert len(set(seen)) == len(seen)
    order = {o["id"]: i for i, o in enumerate(objs)}
    assert [order[i] for i in seen] == sorted(order[i] for i in seen)
    seen_set = set(seen)
    for o in objs:
        # every object is seen unless it was deleted before the walk reached it
        assert o["id"] in seen_set or o["id"] in deleted


@dataclass(frozen=True)
class Posted:
    position: int  # arrival order == date_added order
    id: str
    type: str
    version: str


@pytest.fixture
def history(world: World) -> tuple[World, list[Posted], list[StoredVersion]]:
    """~400 objects of 3 types with 1-4 versions each, posted in a shuffled order."""
    rng = random.Random(2024)
    instants = [f"2021-0{m}-01T00:00:00.000Z" for m in range(1, 6)]
    types = ("indicator", "malware", "tool")
    plan: list[tuple[str, str, str]] = []
    for i in range(400):
        oid = sid(types[i % 3])
        for t in rng.sample(instants, rng.randint(1, 4)):
            plan.append((oid, types[i % 3], t))
    rng.shuffle(plan)
    posted: list[Posted] = []
    for start in range(0, len(plan), 97):
        chunk = plan[start : start + 97]
        results = world.write([sdo(oid, t, name=t) for oid, _, t in chunk])
        assert {r.outcome for r in results} == {"added"}
        posted.extend(Posted(len(posted), oid, typ, t) for oid, typ, t in chunk)
    rows = world.rows()
    assert [(r.id, r.version) for r in rows] == [(p.id, p.version) for p in posted]
    return world, posted, rows


VERSION_FILTERS = {
    "last": LAST,
    "first": FIRST,
    "all": ALL,
    "first,last": FIRST_LAST,
    "exact": exact("2021-03-01T00:00:00.000Z"),
    "last,exact": VersionFilter(last=True, exact=("2021-02-01T00:00:00Z",)),
}


def expected_rows(
    posted: list[Posted],
    *,
    versions: str,
    types: tuple[str, ...],
    ids: tuple[str, ...],
    after: int,
) -> list[int]:
    by_id: dict[str, list[str]] = {}
    for p in posted:
        by_id.setdefault(p.id, []).append(p.version)
    keep = []
    for p in posted:
        first, last = min(by_id[p.id]), max(by_id[p.id])
        ok = {
            "last": p.version == last,
            "first": p.version == first,
            "all": True,
            "first,last": p.version in (first, last),
            "exact": p.version == "2021-03-01T00:00:00.000Z",
            "last,exact": p.version in (last, "2021-02-01T00:00:00.000Z"),
        }[versions]
        if not ok or (types and p.type not in types) or (ids and p.id not in ids):
            continue
        if p.position <= after:
            continue
        keep.append(p.position)
    return keep


@pytest.mark.parametrize("limit", [1, 7, 50])
def test_filter_combinations_with_paging(
    history: tuple[World, list[Posted], list[StoredVersion]], limit: int
) -> None:
    world, posted, rows = history
    some_ids = tuple(sorted({p.id for p in posted})[::5])
    combos = itertools.product(
        VERSION_FILTERS,
        [(), ("malware",), ("indicator", "tool")],
        [(), some_ids],
        [-1, len(posted) // 3, len(posted) - 2],
    )
    checked = 0
    for vname, types, ids, after in combos:
        if limit == 1 and (ids or types or 0 < after < len(posted) - 2):
            continue  # keep the one-row pages cheap
        q = Query(
            collection_id=world.collection_id,
            limit=limit,
            versions=VERSION_FILTERS[vname],
            types=types,
            ids=ids,
            added_after=rows[after].date_added if after >= 0 else None,
        )
        got = pages(world, q)
        check_page_shapes(got, limit)
        seen = [r.seq for p in got for r in p.rows]
        want = [
            rows[i].seq
            for i in expected_rows(posted, versions=vname, types=types, ids=ids, after=after)
        ]
        assert seen == want, (vname, types, bool(ids), after)
        # the same filters without a limit give the same rows in one page
        assert [r.seq for r in world.store.query(replace(q, limit=None)).rows] == want
        checked += 1
    assert checked >= (12 if limit == 1 else 72)


def test_spec_version_filter_with_paging(world: World) -> None:
    versions_posted = []
    for i in range(60):
        spec = "2.0" if i % 4 == 0 else "2.1"
        versions_posted.append(new_version(sdo(name=f"o{i}"), i, spec_version=spec))
    world.store.write_versions(world.collection_id, versions_posted, writer=world.writer)
    q = Query(collection_id=world.collection_id, limit=4, spec_versions=("2.0",))
    got = pages(world, q)
    check_page_shapes(got, 4)
    assert [r.id for p in got for r in p.rows] == [nv.id for nv in versions_posted[::4]]
