"""Fixtures and builders for the storage contract suite.

Every contract test takes the ``store`` fixture, which is parametrised over
``BACKENDS``: a list of backend factories. A factory is a context manager taking a
scratch directory and yielding a migrated, empty Store; it cleans up on exit. The
PostgreSQL backend joins the suite by adding its factory to ``BACKENDS``.

Contract tests only speak the Store protocol (tansiq.storage.base); SQLite-only checks
live in test_sqlite_specific.py.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from tansiq.storage.base import (
    ApiRoot,
    Collection,
    NewVersion,
    Organisation,
    Principal,
    Query,
    Store,
    StoredVersion,
    User,
    VersionFilter,
)

from .pg_support import postgres_param

# --------------------------------------------------------------------------- backends


@contextmanager
def sqlite_backend(tmp: Path) -> Iterator[Store]:
    from tansiq.storage.sqlite import SQLiteStore

    store = SQLiteStore(tmp / "tansiq.db")
    store.migrate()
    try:
        yield store
    finally:
        store.close()


BackendFactory = Callable[[Path], AbstractContextManager[Store]]

BACKENDS: list[Any] = [
    pytest.param(sqlite_backend, id="sqlite"),
    postgres_param(),  # tests/storage/pg_support.py: skipped with a reason when unusable
]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    factory: BackendFactory = request.param
    with factory(tmp_path) as s:
        yield s


# --------------------------------------------------------------------------- STIX builders

TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
TLP_AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"

_counter = itertools.count(1)


def sid(stix_type: str) -> str:
    """A fresh STIX id of ``stix_type``."""
    return f"{stix_type}--{uuid.uuid4()}"


def identity(name: str) -> dict[str, Any]:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": sid("identity"),
        "created": "2020-01-01T00:00:00.000Z",
        "modified": "2020-01-01T00:00:00.000Z",
        "name": name,
        "identity_class": "organization",
    }


def sdo(
    object_id: str | None = None,
    modified: str = "2021-01-01T00:00:00.000Z",
    *,
    stix_type: str = "indicator",
    created: str | None = None,
    name: str = "thing",
    **extra: Any,
) -> dict[str, Any]:
    """A small SDO; ``created`` defaults to a time not after any ``modified`` we use."""
    object_id = object_id or sid(stix_type)
    obj: dict[str, Any] = {
        "type": object_id.split("--", 1)[0],
        "spec_version": "2.1",
        "id": object_id,
        "created": created or "2000-01-01T00:00:00.000Z",
        "modified": modified,
        "name": name,
    }
    if obj["type"] == "indicator":
        obj.update(
            pattern="[ipv4-addr:value = '203.0.113.1']",
            pattern_type="stix",
            valid_from="2000-01-01T00:00:00Z",
        )
    obj.update(extra)
    return obj


def sco(object_id: str | None = None, value: str = "203.0.113.7", **extra: Any) -> dict[str, Any]:
    """An ipv4-addr SCO (no created/modified)."""
    obj: dict[str, Any] = {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": object_id or sid("ipv4-addr"),
        "value": value,
    }
    obj.update(extra)
    return obj


def new_version(
    obj: dict[str, Any],
    index: int = 0,
    *,
    spec_version: str = "2.1",
    created_by: str | None = None,
    markings: tuple[str, ...] | None = None,
) -> NewVersion:
    """What the ingest layer hands the store for ``obj``."""
    return NewVersion(
        obj=obj,
        json=orjson.dumps(obj),
        id=obj["id"],
        type=obj["type"],
        version=obj.get("modified") or obj.get("created"),
        spec_version=spec_version,
        created_by=obj.get("created_by_ref") if created_by is None else created_by,
        markings=tuple(obj.get("object_marking_refs", ())) if markings is None else markings,
        index=index,
    )


def batch(objs: list[dict[str, Any]]) -> list[NewVersion]:
    return [new_version(o, i) for i, o in enumerate(objs)]


# --------------------------------------------------------------------------- world


@dataclass
class World:
    """One store with an organisation, an analyst, an api root and a collection."""

    store: Store
    org: Organisation
    user: User
    writer: Principal
    root: ApiRoot
    collection_id: str

    def new_collection(self, api_root: str | None = None, **kw: Any) -> str:
        return add_collection(self.store, api_root or self.root.name, **kw).id

    def write(
        self, objs: list[dict[str, Any]] | list[NewVersion], collection_id: str | None = None
    ) -> list[Any]:
        versions = [
            o if isinstance(o, NewVersion) else new_version(o, i) for i, o in enumerate(objs)
        ]
        return self.store.write_versions(
            collection_id or self.collection_id, versions, writer=self.writer
        )

    def query(self, collection_id: str | None = None, **kw: Any) -> list[StoredVersion]:
        """Every row matching the filters, following ``next`` pages to the end."""
        return query_all(self.store, Query(collection_id=collection_id or self.collection_id, **kw))

    def rows(self, collection_id: str | None = None) -> list[StoredVersion]:
        return self.query(collection_id, versions=ALL)


ALL = VersionFilter(all=True, last=False)
FIRST = VersionFilter(first=True, last=False)
LAST = VersionFilter()
FIRST_LAST = VersionFilter(first=True, last=True)


def exact(*keys: str) -> VersionFilter:
    return VersionFilter(last=False, exact=tuple(keys))


def query_all(store: Store, query: Query) -> list[StoredVersion]:
    """Follow a query's pages (if it has a limit) and return every row."""
    from dataclasses import replace

    rows: list[StoredVersion] = []
    q = query
    for _ in range(MAX_PAGES):
        page = store.query(q)
        rows.extend(page.rows)
        if not page.more:
            return rows
        assert page.next_position is not None
        assert q.after is None or page.next_position > q.after, "paging does not advance"
        q = replace(q, after=page.next_position)
    raise AssertionError("paging does not end")


MAX_PAGES = 20_000  # more than any test needs; a pager that loops fails instead of hanging


def add_org(store: Store, name: str | None = None) -> Organisation:
    name = name or f"org-{next(_counter)}"
    return store.add_org(name, identity(name))


def add_collection(store: Store, api_root: str, **kw: Any) -> Collection:
    kw.setdefault("title", f"collection {next(_counter)}")
    return store.add_collection(Collection(id=str(uuid.uuid4()), api_root=api_root, **kw))


@pytest.fixture
def world(store: Store) -> World:
    org = add_org(store, "Agency A")
    user = store.add_user("alice", org.id, "analyst", None)
    root = store.add_api_root(ApiRoot(name="default", title="Default"))
    coll = add_collection(store, root.name, title="Shared", write_orgs=frozenset({org.id}))
    return World(store, org, user, Principal(user, org), root, coll.id)
