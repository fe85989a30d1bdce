"""Stream a collection out as one valid STIX 2.1 bundle, every version, in date_added order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import BinaryIO

from tansiq.storage.base import Access, Query, Store, StoredVersion, VersionFilter


def _versions(store: Store, collection_id: str, access: Access | None) -> Iterator[StoredVersion]:
    if access is None:
        yield from store.iter_versions(collection_id)
        return
    position: tuple[str, int] | None = None
    while True:
        page = store.query(
            Query(
                collection_id=collection_id,
                limit=1000,
                after=position,
                versions=VersionFilter(all=True, last=False),
                access=access,
            )
        )
        yield from page.rows
        if not page.more or page.next_position is None:
            return
        position = page.next_position


def write_bundle(
    store: Store, collection_id: str, out: BinaryIO, access: Access | None = None
) -> int:
    """Write the bundle to ``out`` without holding the collection in memory; returns the
    count. With ``access``, only the versions that caller may see."""
    out.write(b'{"type":"bundle","id":"bundle--' + str(uuid.uuid4()).encode() + b'","objects":[')
    count = 0
    for version in _versions(store, collection_id, access):
        if count:
            out.write(b",")
        out.write(version.json)
        count += 1
    out.write(b"]}\n")
    return count
