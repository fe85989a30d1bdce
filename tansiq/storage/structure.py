"""Building collection values from their rows, shared by every backend."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tansiq.errors import InvalidInput
from tansiq.storage.base import Collection

#: Columns the backends select for :func:`collections_from_rows`, in this order.
COLLECTION_COLUMNS = "id, api_root, title, description, alias, public, media_types"


def collections_from_rows(
    rows: Sequence[Sequence[Any]], grant_rows: Iterable[Sequence[Any]]
) -> list[Collection]:
    """Collections from their rows and their (collection_id, org_id, can_read, can_write)
    grant rows."""
    readers: dict[str, set[int]] = {r[0]: set() for r in rows}
    writers: dict[str, set[int]] = {r[0]: set() for r in rows}
    for cid, org, can_read, can_write in grant_rows:
        if can_read:
            readers[cid].add(int(org))
        if can_write:
            writers[cid].add(int(org))
    return [
        Collection(
            id=r[0],
            api_root=r[1],
            title=r[2],
            description=r[3],
            alias=r[4],
            public=bool(r[5]),
            media_types=tuple(r[6].split()),
            read_orgs=frozenset(readers[r[0]]),
            write_orgs=frozenset(writers[r[0]]),
        )
        for r in rows
    ]


def pick_collection(found: list[Collection], id_or_alias: str) -> Collection | None:
    """The collection an id or alias names among those matching either; an id wins, and an
    alias used in several API roots is refused."""
    exact = [c for c in found if c.id == id_or_alias]
    if exact:
        return exact[0]
    if len(found) > 1:
        raise InvalidInput(
            f"alias '{id_or_alias}' names collections in several api roots; use the collection id"
        )
    return found[0] if found else None
