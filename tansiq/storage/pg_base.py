"""Connections, transactions and advisory locks shared by the PostgreSQL store modules.

Every read borrows an autocommit connection from the pool for one statement (or one
batch of an iterator) and gives it back; every write runs in one transaction. Writers
that need to be serialised take transaction-level advisory locks, always in the order
FEED, then AUDIT, so that two transactions can never wait on each other in a cycle.
"""

from __future__ import annotations

import select
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool, PoolTimeout

#: First key of every advisory lock Tansiq takes ("TSIQ"); the second names the lock.
LOCK_CLASS = 0x54534951
#: Serialises every change to ``objects`` (writes and deletes): see postgres.py.
FEED_LOCK = 1
#: Serialises appends to the hash-chained audit log.
AUDIT_LOCK = 2
#: Session-level lock held while migrations run (several processes may start at once).
MIGRATE_LOCK = 3

Conn = psycopg.Connection[TupleRow]

#: Seconds a request waits for a pooled connection before checking that the server
#: answers at all (PgBase._getconn), and how long that check may take to connect.
PROBE_AFTER = 2.0
PROBE_CONNECT_TIMEOUT = 5


def lock_sql(key: int, *, session: bool = False) -> str:
    fn = "pg_advisory_lock" if session else "pg_advisory_xact_lock"
    return f"SELECT {fn}({LOCK_CLASS}, {int(key)})"


def unlock_sql(key: int) -> str:
    return f"SELECT pg_advisory_unlock({LOCK_CLASS}, {int(key)})"


#: Suffix of PostgreSQL migration files (``NNNN_name.pg.sql``); earlier versions also
#: recorded PostgreSQL migrations as ``NNNN_name.pg`` in schema_migrations.
PG_SUFFIX = ".pg"


def pg_migration_scripts() -> list[tuple[str, str]]:
    """(name, sql) of every PostgreSQL migration (``NNNN_name.pg.sql``) in order. The name
    is the migration's, as on SQLite (``NNNN_name``): what ``tansiq init`` reports and
    ``schema_migrations`` records is the same on both backends."""
    folder = resources.files("tansiq.storage").joinpath("migrations")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(PG_SUFFIX + ".sql"):
            name = entry.name.removesuffix(PG_SUFFIX + ".sql")
            out.append((name, entry.read_text(encoding="utf-8")))
    return out


def migration_name(recorded: str) -> str:
    """The migration a ``schema_migrations`` row names (old ``.pg`` names included)."""
    return recorded.removesuffix(PG_SUFFIX)


def hung_up(conn: Conn) -> bool:
    """Whether the server has gone away from an idle connection (it is then closed).

    An idle connection receives nothing from the server unless something happened to
    it: a terminating backend sends its last error and closes the socket, a server
    restart closes it. So a socket with nothing to read is taken as alive without a
    round trip (a silent network partition is not detected here: the statement fails);
    one with something to read is checked with an empty query.
    """
    if conn.closed or conn.broken:
        return True
    try:
        poller = select.poll()  # not select.select: no limit on the descriptor's number
        poller.register(conn.fileno(), select.POLLIN)
        if not poller.poll(0):
            return False
        conn.execute("")  # reads what came: a notice on a live connection, else fails
        return False
    except (OSError, ValueError, psycopg.Error):
        conn.close()
        return True


class PgBase:
    """The pool and the transaction helpers; the store classes build on it."""

    url: str
    _pool: ConnectionPool[Conn]
    #: Test seam: called inside a FEED-locked transaction just before it commits (a test
    #: sets it to stall one writer and check that nobody overtakes it). None in production.
    before_commit: Callable[[], None] | None = None

    @contextmanager
    def _pooled(self) -> Iterator[Conn]:
        """A live connection from the pool, given back on exit.

        After a database restart or failover (or a pg_terminate_backend, or a proxy
        closing idle connections) every pooled connection is dead, and the pool would
        hand each one out once more: one failed request per connection. So connections
        the server has hung up on are dropped here (the pool opens new ones) before one
        is used; in the usual case that costs no round trip (see :func:`hung_up`).
        """
        conn = self._getconn()
        for _ in range(self._pool.max_size):
            if not hung_up(conn):
                break
            self._pool.putconn(conn)  # closed: the pool drops it and opens another
            conn = self._getconn()
        try:
            with conn:  # commit or roll back as psycopg does, keep the connection
                yield conn
        finally:
            self._pool.putconn(conn)

    def _getconn(self) -> Conn:
        """A connection from the pool; fails within seconds when the server is down.

        The pool alone cannot tell a server that is down from a pool that is busy: a
        request would wait the whole pool timeout (30 s) before failing, and a health
        check would hang instead of saying 503. So a request still waiting after
        PROBE_AFTER seconds connects to the server itself: if that fails, so does the
        request, with the server's reason; if it works, it waits on for the pool.
        """
        first = min(PROBE_AFTER, self._pool.timeout)
        try:
            return self._pool.getconn(timeout=first)
        except PoolTimeout:
            pass
        psycopg.connect(self.url, connect_timeout=PROBE_CONNECT_TIMEOUT).close()
        return self._pool.getconn(timeout=max(self._pool.timeout - first, 0.1))

    @contextmanager
    def _conn(self) -> Iterator[Conn]:
        """An autocommit connection for reads (no transaction left open)."""
        with self._pooled() as conn:
            yield conn

    @contextmanager
    def _tx(self, *locks: int) -> Iterator[Conn]:
        """One transaction; ``locks`` (in FEED, AUDIT order) are taken first."""
        with self._pooled() as conn, conn.transaction():
            for key in locks:
                conn.execute(lock_sql(key))
            yield conn
            if FEED_LOCK in locks and self.before_commit is not None:
                self.before_commit()
