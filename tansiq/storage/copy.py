"""Move a whole instance between stores (SQLite <-> PostgreSQL): every table, verbatim.

Objects keep their seq, date_added and versions; users, tokens (hashes), grants, status
resources and the audit chain are copied row for row, so ``tansiq audit verify`` passes
on the target and paging tokens stay valid (the instance secret moves too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tansiq.errors import InvalidInput
from tansiq.storage.base import Store
from tansiq.storage.sqlite import COPY_TABLES


def copy_instance(
    source: Store,
    target: Store,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Copy every table of ``source`` into ``target`` (migrated and empty)."""
    target.migrate()
    if target.list_orgs() or target.list_collections():
        raise InvalidInput("the target database is not empty; copy into a new database")
    counts: dict[str, int] = {}
    for table in COPY_TABLES:
        columns, rows = source.dump_rows(table)

        def tracked(
            rows: Iterator[tuple[Any, ...]] = rows, table: str = table
        ) -> Iterator[tuple[Any, ...]]:
            for n, row in enumerate(rows, 1):
                yield row
                if progress and n % 10_000 == 0:
                    progress(table, n)

        counts[table] = target.load_rows(table, columns, tracked())
        if progress:
            progress(table, counts[table])
    return counts
