"""Contract: TAXII status resources (save, get, update, expire, per api root)."""

from __future__ import annotations

import uuid
from dataclasses import replace

from tansiq.storage.base import ApiRoot, StatusRecord, Store


def status(api_root: str = "default", expires: str = "2030-01-01T00:00:00.000000Z") -> StatusRecord:
    return StatusRecord(
        id=str(uuid.uuid4()),
        api_root=api_root,
        owner="user:1",
        status="complete",
        request_timestamp="2025-01-01T00:00:00.000000Z",
        total_count=3,
        success_count=1,
        failure_count=1,
        pending_count=1,
        successes=[
            {
                "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                "version": "2021-01-01T00:00:00.000Z",
                "message": "added",
            }
        ],
        failures=[{"id": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b", "message": "conflict"}],
        pendings=[{"id": "tool--bd4e6c4c-0b3c-4c1b-8b6e-3a8a5f0d3c11"}],
        expires=expires,
    )


def setup_roots(store: Store) -> None:
    store.add_api_root(ApiRoot("default", "Default"))
    store.add_api_root(ApiRoot("other", "Other"))


def test_status_round_trip(store: Store) -> None:
    setup_roots(store)
    rec = status()
    store.save_status(rec)
    got = store.get_status("default", rec.id)
    assert got == rec
    assert got is not None and got.to_taxii() == rec.to_taxii()


def test_status_with_empty_lists_round_trips(store: Store) -> None:
    setup_roots(store)
    rec = replace(
        status(),
        status="pending",
        success_count=0,
        failure_count=0,
        pending_count=3,
        successes=[],
        failures=[],
        pendings=[],
    )
    store.save_status(rec)
    assert store.get_status("default", rec.id) == rec


def test_status_of_another_api_root_is_not_returned(store: Store) -> None:
    setup_roots(store)
    rec = status("default")
    store.save_status(rec)
    assert store.get_status("other", rec.id) is None
    assert store.get_status("default", str(uuid.uuid4())) is None


def test_saving_again_updates_the_status(store: Store) -> None:
    setup_roots(store)
    pending = replace(status(), status="pending", success_count=0, successes=[])
    store.save_status(pending)
    done = replace(pending, status="complete", success_count=1, pending_count=0, pendings=[])
    store.save_status(done)
    assert store.get_status("default", pending.id) == done


def test_expire_statuses_removes_only_expired_ones(store: Store) -> None:
    setup_roots(store)
    old = status(expires="2025-01-01T00:00:00.000000Z")
    older = status("other", expires="2024-06-01T00:00:00.000000Z")
    fresh = status(expires="2025-01-01T00:00:00.000002Z")
    for rec in (old, older, fresh):
        store.save_status(rec)
    assert store.expire_statuses("2025-01-01T00:00:00.000001Z") == 2
    assert store.get_status("default", old.id) is None
    assert store.get_status("other", older.id) is None
    assert store.get_status("default", fresh.id) == fresh
    assert store.expire_statuses("2025-01-01T00:00:00.000001Z") == 0
    assert store.expire_statuses("2026-01-01T00:00:00.000000Z") == 1
    assert store.get_status("default", fresh.id) is None
