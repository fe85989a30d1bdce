"""Connections, transactions and advisory locks shared by the PostgreSQL store modules.

Every read borrows an autocommit connection from the pool for one statement (or one
batch of an iterator) and gives it back; every write runs in one transaction. Writers
that need to be serialised take transaction-level advisory locks, always in the order
FEED, then AUDIT, so that two transactions can never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

#: First key of every advisory lock Tansiq takes ("TSIQ"); the second names the lock.
LOCK_CLASS = 0x54534951
#: Serialises every change to ``objects`` (writes and deletes): see postgres.py.
FEED_LOCK = 1
#: Serialises appends to the hash-chained audit log.
AUDIT_LOCK = 2
#: Session-level lock held while migrations run (several processes may start at once).
MIGRATE_LOCK = 3

Conn = psycopg.Connection[TupleRow]


def lock_sql(key: int, *, session: bool = False) -> str:
    fn = "pg_advisory_lock" if session else "pg_advisory_xact_lock"
    return f"SELECT {fn}({LOCK_CLASS}, {int(key)})"


def unlock_sql(key: int) -> str:
    return f"SELECT pg_advisory_unlock({LOCK_CLASS}, {int(key)})"


def pg_migration_scripts() -> list[tuple[str, str]]:
    """(name, sql) of every PostgreSQL migration (``NNNN_name.pg.sql``) in order."""
    folder = resources.files("tansiq.storage").joinpath("migrations")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".pg.sql"):
            out.append((entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
    return out


class PgBase:
    """The pool and the transaction helpers; the store classes build on it."""

    _pool: ConnectionPool[Conn]
    #: Test seam: called inside a FEED-locked transaction just before it commits (a test
    #: sets it to stall one writer and check that nobody overtakes it). None in production.
    before_commit: Callable[[], None] | None = None

    @contextmanager
    def _conn(self) -> Iterator[Conn]:
        """An autocommit connection for reads (no transaction left open)."""
        with self._pool.connection() as conn:
            yield conn

    @contextmanager
    def _tx(self, *locks: int) -> Iterator[Conn]:
        """One transaction; ``locks`` (in FEED, AUDIT order) are taken first."""
        with self._pool.connection() as conn, conn.transaction():
            for key in locks:
                conn.execute(lock_sql(key))
            yield conn
            if FEED_LOCK in locks and self.before_commit is not None:
                self.before_commit()
