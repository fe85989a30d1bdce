"""Contract: the append-only, hash-chained audit log kept by the store."""

from __future__ import annotations

import orjson

from tansiq.storage.audit_chain import GENESIS, chain_hash
from tansiq.storage.base import AuditEvent, AuditRow, Store

from .conftest import World, new_version, sdo


def check_chain(rows: list[AuditRow]) -> None:
    prev = GENESIS
    for r in rows:
        assert r.prev_hash == prev
        assert r.hash == chain_hash(
            r.prev_hash,
            r.id,
            r.at,
            r.actor,
            r.user_id,
            r.org_id,
            r.action,
            r.collection_id,
            r.detail,
        )
        prev = r.hash


def test_append_iterate_and_chain(store: Store) -> None:
    before = list(store.iter_audit())
    events = [
        AuditEvent("user.add", "operator", detail={"name": "alice"}),
        AuditEvent(
            "objects.read",
            "alice",
            user_id=1,
            org_id=1,
            collection_id="c-1",
            detail={"returned": 3},
            at="2025-01-01T00:00:00.000000Z",
        ),
        AuditEvent(
            "objects.read",
            "bob",
            user_id=2,
            org_id=2,
            collection_id="c-2",
            at="2025-01-02T00:00:00.000000Z",
        ),
        AuditEvent(
            "manifest.read",
            "alice",
            user_id=1,
            org_id=1,
            collection_id="c-2",
            at="2025-01-03T00:00:00.000000Z",
        ),
    ]
    store.append_audit(events[:1])
    store.append_audit(events[1:])
    store.append_audit([])

    rows = list(store.iter_audit())
    new = rows[len(before) :]
    assert [(r.action, r.actor, r.user_id, r.org_id, r.collection_id) for r in new] == [
        (e.action, e.actor, e.user_id, e.org_id, e.collection_id) for e in events
    ]
    assert [orjson.loads(r.detail) for r in new] == [e.detail for e in events]
    assert [r.at for r in new[1:]] == [e.at for e in events[1:]]
    assert new[0].at  # stamped by the store when not given
    ids = [r.id for r in rows]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    check_chain(rows)
    assert store.audit_head() == (len(rows), rows[-1].hash)

    assert [r.actor for r in store.iter_audit(user_id=1)] == ["alice", "alice"]
    assert [r.action for r in store.iter_audit(collection_id="c-2")] == [
        "objects.read",
        "manifest.read",
    ]
    assert [r.actor for r in store.iter_audit(org_id=2)] == ["bob"]
    window = store.iter_audit(
        since="2025-01-02T00:00:00.000000Z", until="2025-01-03T00:00:00.000000Z"
    )
    assert [r.actor for r in window] == ["bob", "alice"]
    assert [r.id for r in store.iter_audit(batch=1)] == ids


def test_a_write_is_audited_with_its_outcomes(world: World) -> None:
    obj = sdo(name="one")
    world.write([obj])
    before = list(world.store.iter_audit())
    event = AuditEvent("objects.write", "alice", user_id=world.user.id, org_id=world.org.id)
    results = world.store.write_versions(
        world.collection_id,
        [new_version(sdo(name="two"), 0), new_version(obj, 1), new_version(dict(obj, name="x"), 2)],
        writer=world.writer,
        audit=event,
    )
    assert [r.outcome for r in results] == ["added", "unchanged", "conflict"]
    rows = list(world.store.iter_audit())
    (entry,) = rows[len(before) :]
    assert (entry.action, entry.actor, entry.user_id, entry.collection_id) == (
        "objects.write",
        "alice",
        world.user.id,
        world.collection_id,
    )
    assert orjson.loads(entry.detail)["counts"] == {"added": 1, "unchanged": 1, "conflict": 1}
    check_chain(rows)


def test_audit_is_kept_across_many_entries(store: Store) -> None:
    before = len(list(store.iter_audit()))
    for i in range(5):
        store.append_audit(
            [AuditEvent("objects.read", f"u{i}", detail={"i": i}) for _ in range(50)]
        )
    rows = list(store.iter_audit(batch=7))
    assert len(rows) == before + 250
    check_chain(rows)
    assert store.audit_head() == (before + 250, rows[-1].hash)
