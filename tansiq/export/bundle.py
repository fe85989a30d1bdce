"""Stream a collection out as one valid STIX 2.1 bundle, every version, in date_added order."""

from __future__ import annotations

import uuid
from typing import BinaryIO

from tansiq.storage.base import Store


def write_bundle(store: Store, collection_id: str, out: BinaryIO) -> int:
    """Write the bundle to ``out`` without holding the collection in memory; returns the count."""
    out.write(b'{"type":"bundle","id":"bundle--' + str(uuid.uuid4()).encode() + b'","objects":[')
    count = 0
    for version in store.iter_versions(collection_id):
        if count:
            out.write(b",")
        out.write(version.json)
        count += 1
    out.write(b"]}\n")
    return count
