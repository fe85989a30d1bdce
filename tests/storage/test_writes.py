"""Contract: writing object versions (immutability, conflicts, SCOs, batches, date_added)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import orjson

from tansiq.errors import TansiqError
from tansiq.storage.base import Query, WriteResult
from tansiq.storage.identity import body_hash

from .conftest import ALL, FIRST, TLP_AMBER, TLP_GREEN, World, exact, new_version, sco, sdo, sid

DATE_ADDED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def utc_text(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def reorder(value: object) -> object:
    """The same JSON value with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {k: reorder(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reorder(v) for v in value]
    return value


# --------------------------------------------------------------------------- one write


def test_new_object_is_stored_as_one_row_with_every_field(world: World) -> None:
    creator = world.org.identity_id
    obj = sdo(
        modified="2021-03-04T05:06:07.890Z",
        stix_type="malware",
        created_by_ref=creator,
        object_marking_refs=[TLP_GREEN, TLP_AMBER],
        is_family=False,
    )
    nv = new_version(obj, index=0)
    before = utc_text(datetime.now(UTC))
    results = world.store.write_versions(
        world.collection_id, [nv], writer=world.writer, peer="peer-one"
    )
    after = utc_text(datetime.now(UTC) + timedelta(seconds=1))

    assert results == [WriteResult(0, obj["id"], "2021-03-04T05:06:07.890Z", "added")]
    rows = world.rows()
    assert len(rows) == 1
    row = rows[0]
    assert isinstance(row.seq, int)
    assert row.collection_id == world.collection_id
    assert row.id == obj["id"]
    assert row.type == "malware"
    assert row.version == "2021-03-04T05:06:07.890Z"
    assert row.spec_version == "2.1"
    assert row.created_by == creator
    assert row.markings == (TLP_GREEN, TLP_AMBER)
    assert row.json == nv.json
    assert orjson.loads(row.json) == obj
    assert row.writer_user_id == world.user.id
    assert row.writer_org_id == world.org.id
    assert row.peer == "peer-one"
    assert DATE_ADDED.match(row.date_added), row.date_added
    assert before <= row.date_added <= after
    assert row.manifest_entry() == {
        "id": obj["id"],
        "date_added": row.date_added,
        "version": "2021-03-04T05:06:07.890Z",
        "media_type": "application/stix+json;version=2.1",
    }
    assert world.store.count_versions(world.collection_id) == 1


def test_unmarked_object_without_creator_round_trips_empty(world: World) -> None:
    obj = sdo()
    world.write([obj])
    (row,) = world.rows()
    assert row.created_by is None
    assert row.markings == ()
    assert row.peer is None


def test_empty_batch_writes_nothing(world: World) -> None:
    assert world.store.write_versions(world.collection_id, [], writer=world.writer) == []
    assert world.store.count_versions(world.collection_id) == 0


def test_write_of_a_collection_does_not_touch_another(world: World) -> None:
    other = world.new_collection()
    world.write([sdo(), sdo()])
    assert world.store.count_versions(world.collection_id) == 2
    assert world.store.count_versions(other) == 0
    assert world.rows(other) == []


# --------------------------------------------------------------------------- immutability


def test_identical_repost_is_unchanged_and_adds_no_row(world: World) -> None:
    obj = sdo(modified="2021-01-01T00:00:00.000Z")
    world.write([obj])
    first = world.rows()

    results = world.write([dict(obj)])

    assert results == [WriteResult(0, obj["id"], "2021-01-01T00:00:00.000Z", "unchanged")]
    assert results[0].ok
    assert world.rows() == first
    assert world.store.count_versions(world.collection_id) == 1
    assert world.store.list_conflicts() == []


def test_key_order_does_not_make_a_body_different(world: World) -> None:
    obj = sdo(
        external_references=[{"source_name": "cve", "external_id": "CVE-2021-0001"}],
        extensions={"x-ext": {"extension_type": "property-extension", "a": 1, "b": [1, 2]}},
    )
    original = new_version(obj)
    world.write([original])
    shuffled = reorder(obj)
    assert isinstance(shuffled, dict)
    assert orjson.dumps(shuffled) != original.json  # really another byte string

    results = world.write([shuffled])

    assert [r.outcome for r in results] == ["unchanged"]
    (row,) = world.rows()
    assert row.json == original.json
    assert world.store.list_conflicts() == []


def test_different_body_same_version_is_a_conflict_and_the_original_is_kept(
    world: World,
) -> None:
    obj = sdo(modified="2021-01-01T00:00:00.000Z", name="original")
    original = new_version(obj)
    world.write([original])
    before = world.rows()
    changed = dict(obj, name="tampered")

    results = world.store.write_versions(
        world.collection_id, [new_version(changed, 5)], writer=world.writer, peer="peer-x"
    )

    assert len(results) == 1
    res = results[0]
    assert (res.index, res.id, res.version, res.outcome) == (
        5,
        obj["id"],
        "2021-01-01T00:00:00.000Z",
        "conflict",
    )
    assert not res.ok
    assert res.message
    assert world.rows() == before
    assert before[0].json == original.json
    conflicts = world.store.list_conflicts()
    assert len(conflicts) == 1
    c = conflicts[0]
    assert c["collection_id"] == world.collection_id
    assert c["object_id"] == obj["id"]
    assert c["version"] == "2021-01-01T00:00:00.000Z"
    assert c["writer_user_id"] == world.user.id
    assert c["peer"] == "peer-x"
    assert c["at"]


def test_conflicts_are_listed_newest_first_and_limited(world: World) -> None:
    objs = [sdo(name="a") for _ in range(3)]
    world.write(objs)
    for o in objs:
        assert [r.outcome for r in world.write([dict(o, name="b")])] == ["conflict"]
    listed = world.store.list_conflicts()
    assert [c["object_id"] for c in listed] == [o["id"] for o in reversed(objs)]
    assert [c["object_id"] for c in world.store.list_conflicts(limit=2)] == [
        objs[2]["id"],
        objs[1]["id"],
    ]


def test_a_new_modified_is_a_new_version_not_a_conflict(world: World) -> None:
    obj = sdo(modified="2021-01-01T00:00:00.000Z", name="v1")
    world.write([obj])
    v2 = dict(obj, modified="2021-01-02T00:00:00.000Z", name="v2")
    assert world.write([v2]) == [WriteResult(0, obj["id"], "2021-01-02T00:00:00.000Z", "added")]
    assert [r.version for r in world.rows()] == [
        "2021-01-01T00:00:00.000Z",
        "2021-01-02T00:00:00.000Z",
    ]


def test_object_without_modified_is_versioned_by_created(world: World) -> None:
    obj = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": sid("marking-definition"),
        "created": "2022-02-02T02:02:02.222Z",
        "definition_type": "statement",
        "definition": {"statement": "Copyright Agency A"},
    }
    assert world.write([obj]) == [WriteResult(0, obj["id"], "2022-02-02T02:02:02.222Z", "added")]
    (row,) = world.rows()
    assert row.version == "2022-02-02T02:02:02.222Z"
    assert [r.outcome for r in world.write([obj])] == ["unchanged"]
    changed = dict(obj, definition={"statement": "Copyright Agency B"})
    assert [r.outcome for r in world.write([changed])] == ["conflict"]


# --------------------------------------------------------------------------- timestamp precision

PRECISIONS = [
    ("2020-01-01T00:00:00Z", "2020-01-01T00:00:00.000Z"),
    ("2020-01-01T00:00:00.1Z", "2020-01-01T00:00:00.100Z"),
    ("2020-01-01T00:00:00.120Z", "2020-01-01T00:00:00.12Z"),
    ("2020-01-01T00:00:00.123Z", "2020-01-01T00:00:00.123000Z"),
    ("2020-01-01T00:00:00.123456Z", "2020-01-01T00:00:00.123456000Z"),
]


def test_precision_variants_are_the_same_version(world: World) -> None:
    """A different body under an equal timestamp written with other precision: conflict."""
    for posted, variant in PRECISIONS:
        obj = sdo(modified=posted, name="original")
        world.write([obj])
        changed = dict(obj, modified=variant, name="changed")
        results = world.write([changed])
        assert [r.outcome for r in results] == ["conflict"], (posted, variant)
        rows = world.query(ids=(obj["id"],), versions=ALL)
        assert [(r.version, r.json) for r in rows] == [(posted, orjson.dumps(obj))]
        for text in (posted, variant):
            found = world.query(ids=(obj["id"],), versions=exact(text))
            assert [r.version for r in found] == [posted], (posted, text)


def test_repost_differing_only_in_timestamp_precision_is_unchanged(world: World) -> None:
    """Same object, same content; the client printed its timestamps with other precision.

    (The stix2 library and many TAXII servers re-print timestamps with millisecond
    precision; a pull of the same object from such a peer must be an idempotent no-op.)
    """
    obj = sdo(created="2020-01-01T00:00:00Z", modified="2020-06-01T00:00:00Z")
    world.write([obj])
    reprinted = dict(obj, created="2020-01-01T00:00:00.000Z", modified="2020-06-01T00:00:00.000Z")

    results = world.write([reprinted])

    assert [(r.outcome, r.version) for r in results] == [("unchanged", "2020-06-01T00:00:00.000Z")]
    assert world.store.count_versions(world.collection_id) == 1
    assert world.store.list_conflicts() == []


def test_sub_microsecond_timestamps_are_distinct_versions(world: World) -> None:
    """STIX timestamps may carry any sub-second precision; 1 ns apart is another version."""
    obj = sdo(modified="2020-01-01T00:00:00.1234567Z", name="a")
    later = dict(obj, modified="2020-01-01T00:00:00.1234568Z", name="b")
    results = world.write([obj, later])
    assert [r.outcome for r in results] == ["added", "added"]
    (last,) = world.query()
    assert last.version == "2020-01-01T00:00:00.1234568Z"


# --------------------------------------------------------------------------- collections


def test_same_object_in_two_collections_is_independent(world: World) -> None:
    a, b = world.collection_id, world.new_collection()
    v1 = sdo(modified="2021-01-01T00:00:00.000Z", name="in a")
    v1_other_body = dict(v1, name="in b")
    v2 = dict(v1, modified="2021-02-01T00:00:00.000Z", name="v2")

    assert [r.outcome for r in world.write([v1], a)] == ["added"]
    # identical version into another collection: a new row there, not "unchanged"
    assert [r.outcome for r in world.write([v1], b)] == ["added"]
    # a different body under the same version in a third collection is not a conflict
    c = world.new_collection()
    assert [r.outcome for r in world.write([v1_other_body], c)] == ["added"]
    assert world.store.list_conflicts() == []
    # a new version in a only
    assert [r.outcome for r in world.write([v2], a)] == ["added"]

    assert [r.version for r in world.rows(a)] == [
        "2021-01-01T00:00:00.000Z",
        "2021-02-01T00:00:00.000Z",
    ]
    assert [r.version for r in world.query(a)] == ["2021-02-01T00:00:00.000Z"]
    assert [r.version for r in world.query(b)] == ["2021-01-01T00:00:00.000Z"]
    assert [orjson.loads(r.json)["name"] for r in world.rows(c)] == ["in b"]
    assert {r.collection_id for r in world.rows(b)} == {b}
    rows_a, rows_b = world.rows(a), world.rows(b)
    assert rows_a[0].seq != rows_b[0].seq

    # a conflict in b does not touch a
    assert [r.outcome for r in world.write([dict(v2, name="other")], b)] == ["added"]
    assert [r.outcome for r in world.write([dict(v2, name="other")], a)] == ["conflict"]
    assert orjson.loads(world.query(a)[0].json)["name"] == "v2"
    assert orjson.loads(world.query(b)[0].json)["name"] == "other"


# --------------------------------------------------------------------------- SCOs


def test_sco_identical_repost_is_unchanged(world: World) -> None:
    obj = sco(value="198.51.100.1")
    (added,) = world.write([obj])
    (row,) = world.rows()
    assert added == WriteResult(0, obj["id"], row.version, "added")
    assert row.version == row.date_added

    (again,) = world.write([dict(obj)])
    assert again == WriteResult(0, obj["id"], row.version, "unchanged")
    (again,) = world.write([reorder(obj)])
    assert again.outcome == "unchanged"
    assert world.rows() == [row]


def test_sco_with_another_body_is_a_new_version_dated_by_date_added(world: World) -> None:
    obj = sco(value="198.51.100.1")
    world.write([obj])
    changed = dict(obj, value="198.51.100.2")

    (res,) = world.write([changed])

    rows = world.rows()
    assert len(rows) == 2
    old, new = rows
    assert res == WriteResult(0, obj["id"], new.version, "added")
    assert new.version == new.date_added
    assert old.version == old.date_added
    assert new.version > old.version
    assert orjson.loads(new.json)["value"] == "198.51.100.2"
    assert world.store.list_conflicts() == []
    # default = last, first = the original
    assert [r.seq for r in world.query()] == [new.seq]
    assert [r.seq for r in world.query(versions=FIRST)] == [old.seq]
    # exact version filter on an SCO version (the version text is a timestamp)
    for r in rows:
        found = world.query(versions=exact(r.version))
        assert [f.seq for f in found] == [r.seq]
    # reposting the first body again: that content is already stored
    (again,) = world.write([obj])
    assert again == WriteResult(0, obj["id"], old.version, "unchanged")
    assert world.store.count_versions(world.collection_id) == 2


def test_sco_versions_in_one_batch(world: World) -> None:
    oid = sid("ipv4-addr")
    objs = [sco(oid, "192.0.2.1"), sco(oid, "192.0.2.2"), sco(oid, "192.0.2.1")]
    results = world.write(objs)
    rows = world.rows()
    assert len(rows) == 2
    assert [r.outcome for r in results] == ["added", "added", "unchanged"]
    assert [r.version for r in results] == [rows[0].version, rows[1].version, rows[0].version]
    assert all(r.version == r.date_added for r in rows)
    assert [r.seq for r in world.query()] == [rows[1].seq]


# --------------------------------------------------------------------------- revoked


def test_revoked_versions_are_kept_and_returned(world: World) -> None:
    v1 = sdo(modified="2021-01-01T00:00:00.000Z")
    revoked = dict(v1, modified="2021-06-01T00:00:00.000Z", revoked=True)
    assert [r.outcome for r in world.write([v1])] == ["added"]
    assert [r.outcome for r in world.write([revoked])] == ["added"]

    (last,) = world.query()
    assert last.version == "2021-06-01T00:00:00.000Z"
    assert orjson.loads(last.json)["revoked"] is True
    assert [r.version for r in world.rows()] == [
        "2021-01-01T00:00:00.000Z",
        "2021-06-01T00:00:00.000Z",
    ]
    assert [r.outcome for r in world.write([revoked])] == ["unchanged"]


# --------------------------------------------------------------------------- date_added


def test_date_added_strictly_increases_across_writes_and_within_a_batch(world: World) -> None:
    other = world.new_collection()
    written: list[str] = []
    for size in (1, 50, 3, 200, 1):
        objs = [sdo() for _ in range(size)]
        world.write(objs)
        world.write([sdo()], other)  # interleaved writes elsewhere share the clock
        written.extend(o["id"] for o in objs)
    rows = world.rows()
    assert [r.id for r in rows] == written
    stamps = [r.date_added for r in rows]
    assert all(a < b for a, b in zip(stamps, stamps[1:], strict=False))
    everything = sorted([r.date_added for r in rows] + [r.date_added for r in world.rows(other)])
    assert len(set(everything)) == len(everything)


def test_results_are_ordered_by_date_added_then_seq(world: World) -> None:
    world.write([sdo() for _ in range(30)])
    world.write([sco(value=f"192.0.2.{i}") for i in range(30)])
    rows = world.rows()
    keys = [(r.date_added, r.seq) for r in rows]
    assert keys == sorted(keys)
    assert len({r.seq for r in rows}) == len(rows)


def test_date_added_is_not_the_version_order(world: World) -> None:
    """Rows come back in arrival order, whatever their modified timestamps."""
    obj = sdo(modified="2021-05-01T00:00:00.000Z")
    older = dict(obj, modified="2021-01-01T00:00:00.000Z")
    world.write([obj])
    world.write([older])
    assert [r.version for r in world.rows()] == [
        "2021-05-01T00:00:00.000Z",
        "2021-01-01T00:00:00.000Z",
    ]


# --------------------------------------------------------------------------- batches


def test_mixed_batch_keeps_the_valid_ones_and_reports_each(world: World) -> None:
    existing = sdo(name="existing")
    victim = sdo(name="victim")
    world.write([existing, victim])
    fresh = sdo(name="fresh")
    fresh_sco = sco(value="192.0.2.99")
    fresh_conflicting = dict(fresh, name="fresh but different")
    later = dict(existing, modified="2022-01-01T00:00:00.000Z", name="existing v2")
    inputs = [
        new_version(fresh, 10),
        new_version(existing, 11),  # unchanged
        new_version(dict(victim, name="changed"), 12),  # conflict with the stored one
        new_version(fresh_sco, 13),
        new_version(fresh, 14),  # duplicate within the batch: unchanged
        new_version(fresh_conflicting, 15),  # conflicts with item 10 of this batch
        new_version(later, 16),
    ]

    results = world.store.write_versions(world.collection_id, inputs, writer=world.writer)

    assert [(r.index, r.id, r.outcome) for r in results] == [
        (10, fresh["id"], "added"),
        (11, existing["id"], "unchanged"),
        (12, victim["id"], "conflict"),
        (13, fresh_sco["id"], "added"),
        (14, fresh["id"], "unchanged"),
        (15, fresh["id"], "conflict"),
        (16, existing["id"], "added"),
    ]
    assert [r.version for r in results if r.id != fresh_sco["id"]] == [
        fresh["modified"],
        existing["modified"],
        victim["modified"],
        fresh["modified"],
        fresh["modified"],
        "2022-01-01T00:00:00.000Z",
    ]
    rows = world.rows()
    assert [(r.id, orjson.loads(r.json).get("name")) for r in rows] == [
        (existing["id"], "existing"),
        (victim["id"], "victim"),
        (fresh["id"], "fresh"),
        (fresh_sco["id"], None),
        (existing["id"], "existing v2"),
    ]
    assert results[3].version == rows[3].date_added
    assert sorted(c["object_id"] for c in world.store.list_conflicts()) == sorted(
        [victim["id"], fresh["id"]]
    )


def test_large_batch_results_in_order_and_conflicts_across_the_whole_batch(
    world: World,
) -> None:
    objs = [sdo(name=f"n{i}") for i in range(4200)]
    inputs = [new_version(o, i) for i, o in enumerate(objs)]
    # the same (id, version) again far away in the batch, once identical, once changed
    inputs.append(new_version(objs[0], 4200))
    inputs.append(new_version(dict(objs[1], name="changed"), 4201))
    inputs.append(new_version(dict(objs[4100], name="changed"), 4202))

    results = world.store.write_versions(world.collection_id, inputs, writer=world.writer)

    assert [r.index for r in results] == list(range(4203))
    assert [r.id for r in results] == [nv.id for nv in inputs]
    assert [r.outcome for r in results] == ["added"] * 4200 + ["unchanged", "conflict", "conflict"]
    rows = world.rows()
    assert [r.id for r in rows] == [o["id"] for o in objs]
    assert rows[1].json == inputs[1].json
    stamps = [r.date_added for r in rows]
    assert all(a < b for a, b in zip(stamps, stamps[1:], strict=False))


def test_nv_json_is_stored_verbatim(world: World) -> None:
    """The stored bytes are the bytes handed in, never re-serialised."""
    obj = sdo(name="ünïcode ✓")
    nv = new_version(obj)
    spaced = nv._replace(json=orjson.dumps(obj, option=orjson.OPT_INDENT_2))
    world.write([spaced])
    (row,) = world.rows()
    assert row.json == spaced.json
    (page_row,) = world.store.query(Query(collection_id=world.collection_id)).rows
    assert page_row.json == spaced.json


def test_created_by_ref_must_stay_the_same_across_versions(world: World) -> None:
    """STIX 2.1 §3.6: only the creator publishes new versions; created_by_ref never changes."""
    mitre = "identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5"
    other = "identity--0f9d1c1a-5a55-4d5c-9b1c-0a4f6f0d3b7e"
    v1 = sdo(modified="2021-01-01T00:00:00.000Z", created_by_ref=mitre)
    assert [r.outcome for r in world.write([v1])] == ["added"]
    hijack = dict(v1, modified="2021-02-01T00:00:00.000Z", created_by_ref=other)
    unsigned = {k: v for k, v in hijack.items() if k != "created_by_ref"}
    results = world.write([hijack, unsigned])
    assert [(r.outcome, r.ok) for r in results] == [("denied", False), ("denied", False)]
    assert all(r.message for r in results)
    assert [r.version for r in world.rows()] == ["2021-01-01T00:00:00.000Z"]
    later = dict(v1, modified="2021-03-01T00:00:00.000Z", name="by the same creator")
    assert [r.outcome for r in world.write([later])] == ["added"]
    assert [r.created_by for r in world.rows()] == [mitre, mitre]


def test_versions_handed_over_with_a_hash_and_no_obj(world: World) -> None:
    """``obj`` may be dropped once ``hash`` is computed (parallel import): the hash decides."""
    obj = sdo(name="original")
    changed = dict(obj, name="changed")
    stripped = [
        new_version(o, i)._replace(obj=None, hash=body_hash(o))
        for i, o in enumerate([obj, obj, changed, reorder(obj)])
    ]
    results = world.store.write_versions(world.collection_id, stripped, writer=world.writer)
    assert [r.outcome for r in results] == ["added", "unchanged", "conflict", "unchanged"]
    (row,) = world.rows()
    assert row.json == stripped[0].json


def test_versions_without_obj_or_hash_are_refused_or_compared_by_their_bytes(
    world: World,
) -> None:
    """Without ``obj`` and ``hash`` the store must not treat every body as the same one
    (refusing such input loudly is acceptable; silently answering "unchanged" is not)."""
    obj = sdo(name="original")
    changed = dict(obj, name="changed")
    a = sco(value="192.0.2.1")
    b = sco(a["id"], value="192.0.2.2")
    bare = [new_version(o, i)._replace(obj=None) for i, o in enumerate([obj, changed, a, b])]
    try:
        results = world.store.write_versions(world.collection_id, bare, writer=world.writer)
    except (ValueError, TypeError, TansiqError):
        assert world.store.count_versions(world.collection_id) == 0
        return
    assert [r.outcome for r in results] == ["added", "conflict", "added", "added"]
