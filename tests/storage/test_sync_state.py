"""Federation state documents: get/put/list/delete by key prefix, on every backend."""

from __future__ import annotations

from tansiq.storage.base import Store


def test_put_get_overwrite(store: Store) -> None:
    assert store.get_state("peer/a") is None
    store.put_state("peer/a", '{"url": "x"}')
    store.put_state("peer/a", '{"url": "y"}')
    assert store.get_state("peer/a") == '{"url": "y"}'


def test_list_and_delete_by_prefix(store: Store) -> None:
    for key in ["peer/a", "peer/ab", "cursor/a/pull/1/2", "cursor/ab/pull/1/2", "peer/b"]:
        store.put_state(key, key.upper())
    assert [k for k, _ in store.list_state("peer/")] == ["peer/a", "peer/ab", "peer/b"]
    assert store.list_state("cursor/a/") == [("cursor/a/pull/1/2", "CURSOR/A/PULL/1/2")]
    # a prefix is literal text: no LIKE wildcards
    store.put_state("x%y", "1")
    assert store.list_state("x_") == []
    assert store.delete_state("cursor/a/") == 1
    assert store.get_state("cursor/ab/pull/1/2") == "CURSOR/AB/PULL/1/2"


def test_state_does_not_bump_generation(store: Store) -> None:
    before = store.generation()
    store.put_state("cursor/a/pull/1/2", "{}")
    assert store.generation() == before
