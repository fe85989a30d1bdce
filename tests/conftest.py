"""Shared fixtures: the storage backends, a real instance and a real uvicorn server.

The suites that build instances (tests/taxii, tests/access, tests/cli) run on every
storage backend: the session-scoped ``backend`` fixture is parametrised over SQLite and
PostgreSQL, and every instance-building fixture takes it, so each test runs once per
backend (its id ends in ``[sqlite]`` or ``[postgres]``). The PostgreSQL param is skipped,
with the reason, only when no PostgreSQL can be had at all (tests/storage/pg_support.py).

A test names a database by a *location*: a SQLite file path or a ``postgresql://`` URL,
which is what ``tansiq --database`` takes too. :class:`Backend` makes locations (a fresh
migrated database, a blank one, a copy of another) and gives the few raw accesses that a
test needs below the Store protocol (tampering with the audit log, reading every stored
byte).
"""

from __future__ import annotations

import abc
import contextlib
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tansiq.access import admin
from tansiq.storage.base import Store
from tansiq.storage.sqlite import SQLiteStore
from tansiq.taxii.app import create_app
from tansiq.taxii.settings import Settings
from tests.storage import pg_support

TAXII = "application/taxii+json;version=2.1"
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A uvicorn server in a background thread, serving ``create_app(settings, store)``."""

    def __init__(self, store: Store, settings: Settings | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings or Settings(), store),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


# --------------------------------------------------------------------------- backends

Statement = tuple[str, Sequence[Any]]


def is_postgres(database: str | Path) -> bool:
    return str(database).startswith(("postgresql://", "postgres://"))


def open_database(database: str | Path) -> Store:
    """A store on ``database`` (a SQLite file path or a PostgreSQL URL), not migrated."""
    if is_postgres(database):
        from tansiq.storage.postgres import PostgresStore

        return PostgresStore(str(database))
    return SQLiteStore(Path(database))


class Backend(abc.ABC):
    """One storage backend, as the instance-level suites see it."""

    name = ""

    @abc.abstractmethod
    def database(
        self, directory: Path, name: str = "tansiq"
    ) -> contextlib.AbstractContextManager[str]:
        """A migrated, empty database for the duration of the block; yields its location
        (``directory`` and ``name`` place a SQLite file)."""
        raise NotImplementedError

    @abc.abstractmethod
    def blank(self, directory: Path, name: str = "blank") -> contextlib.AbstractContextManager[str]:
        """A database that holds nothing yet, not even the schema (``tansiq init`` has not
        run on it); yields its location."""
        raise NotImplementedError

    @abc.abstractmethod
    def missing(self, directory: Path) -> str:
        """The location of a database that does not exist (and is not created by asking)."""
        raise NotImplementedError

    @abc.abstractmethod
    def copy(self, database: str, directory: Path) -> contextlib.AbstractContextManager[str]:
        """A copy of ``database`` (closed: no store open on it); yields its location."""
        raise NotImplementedError

    @abc.abstractmethod
    def execute(self, database: str, *statements: Statement) -> None:
        """Run raw SQL (``?`` placeholders) on ``database`` in one transaction, behind the
        store's back: what someone with direct access to the database could do."""
        raise NotImplementedError

    @abc.abstractmethod
    def fetch(self, database: str, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a raw query (``?`` placeholders) on ``database``."""
        raise NotImplementedError

    @abc.abstractmethod
    def stored_bytes(self, database: str) -> bytes:
        """Everything the database holds on disk, as far as a test can tell: every byte
        of a SQLite file (and its write-ahead log), every row of every PostgreSQL table."""
        raise NotImplementedError


class SQLiteBackend(Backend):
    name = "sqlite"

    @contextlib.contextmanager
    def database(self, directory: Path, name: str = "tansiq") -> Iterator[str]:
        path = directory / f"{name}.db"
        store = SQLiteStore(path)
        try:
            store.migrate()
        finally:
            store.close()
        yield str(path)

    @contextlib.contextmanager
    def blank(self, directory: Path, name: str = "blank") -> Iterator[str]:
        yield str(directory / f"{name}.db")  # no file yet: SQLite creates it

    def missing(self, directory: Path) -> str:
        return str(directory / "no-such-database.db")

    @contextlib.contextmanager
    def copy(self, database: str, directory: Path) -> Iterator[str]:
        target = directory / f"copy-of-{Path(database).name}"
        with sqlite3.connect(database) as conn:  # fold the write-ahead log into the file
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        shutil.copy(database, target)
        yield str(target)

    def execute(self, database: str, *statements: Statement) -> None:
        conn = sqlite3.connect(database)
        try:
            for sql, args in statements:
                conn.execute(sql, tuple(args))
            conn.commit()
        finally:
            conn.close()

    def fetch(self, database: str, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(database)
        try:
            return list(conn.execute(sql, tuple(args)).fetchall())
        finally:
            conn.close()

    def stored_bytes(self, database: str) -> bytes:
        path = Path(database)
        conn = sqlite3.connect(database)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


class PostgresBackend(Backend):
    name = "postgres"

    @contextlib.contextmanager
    def database(self, directory: Path, name: str = "tansiq") -> Iterator[str]:
        with pg_support.database() as url:
            yield url

    @contextlib.contextmanager
    def blank(self, directory: Path, name: str = "blank") -> Iterator[str]:
        with pg_support.blank_database() as url:
            yield url

    def missing(self, directory: Path) -> str:
        server = pg_support.server()
        return pg_support.with_dbname(server.admin_url, "tansiq_no_such_database")

    @contextlib.contextmanager
    def copy(self, database: str, directory: Path) -> Iterator[str]:
        with pg_support.copy_of(database) as url:
            yield url

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, database: str, *statements: Statement) -> None:
        import psycopg

        with psycopg.connect(database) as conn:  # one transaction, committed on exit
            for sql, args in statements:
                conn.execute(self._sql(sql), tuple(args))

    def fetch(self, database: str, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(database, autocommit=True) as conn:
            return list(conn.execute(self._sql(sql), tuple(args)).fetchall())

    def stored_bytes(self, database: str) -> bytes:
        import psycopg

        out = bytearray()
        with psycopg.connect(database, autocommit=True) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT format('%I', tablename) FROM pg_tables "
                    "WHERE schemaname = current_schema() ORDER BY tablename"
                )
            ]
            for table in tables:  # binary COPY: text as UTF-8, bytea as its raw bytes
                with (
                    conn.cursor() as cur,
                    cur.copy(f"COPY {table} TO STDOUT (FORMAT BINARY)") as copy,
                ):
                    for chunk in copy:
                        out += chunk
        return bytes(out)


BACKENDS: dict[str, Backend] = {"sqlite": SQLiteBackend(), "postgres": PostgresBackend()}

_PG_UNAVAILABLE = pg_support.unavailable()
BACKEND_PARAMS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=pytest.mark.skipif(_PG_UNAVAILABLE is not None, reason=_PG_UNAVAILABLE or ""),
    ),
]


@pytest.fixture(scope="session", params=BACKEND_PARAMS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """The storage backend under test: every test that builds an instance runs on each."""
    return BACKENDS[request.param]


@dataclass
class Instance:
    """A populated instance: two organisations, users of each role, collections."""

    store: Store
    database: str  # SQLite file path or PostgreSQL URL: what ``tansiq --database`` takes
    tokens: dict[str, str] = field(default_factory=dict)  # user name -> bearer token
    collections: dict[str, str] = field(default_factory=dict)  # alias -> id


_password_hashes: list[str] = []


def password_hash() -> str:
    """The Argon2 hash of PASSWORD, computed once per process (Argon2 is slow on purpose)."""
    if not _password_hashes:
        from tansiq.access.credentials import hash_password

        _password_hashes.append(hash_password(PASSWORD))
    return _password_hashes[0]


def build_instance(database: str | Path) -> Instance:
    """Populate ``database`` (a SQLite file path or a PostgreSQL URL; migrated here)."""
    store = open_database(database)
    store.migrate()
    admin.ensure_api_root(store)
    admin.ensure_api_root(store, "second", "Second API root")
    inst = Instance(store=store, database=str(database))
    admin.add_org(store, "Alpha CERT")
    admin.add_org(store, "Beta Police")
    for name, org, role in [
        ("alice", "Alpha CERT", "analyst"),
        ("rita", "Alpha CERT", "reader"),
        ("bob", "Beta Police", "analyst"),
        ("root", "Alpha CERT", "admin"),
    ]:
        created = admin.add_user(store, name, org, role)
        store.set_user_password_hash(created.user.id, password_hash())
        inst.tokens[name] = created.token
    for alias, title, read, write, root, public in [
        ("shared", "Shared intel", ["Alpha CERT", "Beta Police"], ["Alpha CERT"], "default", False),
        ("alpha-only", "Alpha only", ["Alpha CERT"], ["Alpha CERT"], "default", False),
        ("write-only", "Drop box", [], ["Alpha CERT"], "default", False),
        ("public", "Public feed", [], ["Alpha CERT"], "default", True),
        ("other-root", "In second root", ["Alpha CERT"], ["Alpha CERT"], "second", False),
    ]:
        coll = admin.add_collection(
            store, title, api_root=root, alias=alias, read=read, write=write, public=public
        )
        inst.collections[alias] = coll.id
    return inst


@pytest.fixture
def database(backend: Backend, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of the backend under test, for one test."""
    with backend.database(tmp_path) as location:
        yield location


@pytest.fixture
def instance(database: str) -> Iterator[Instance]:
    inst = build_instance(database)
    yield inst
    inst.store.close()


@pytest.fixture
def server(instance: Instance) -> Iterator[LiveServer]:
    live = LiveServer(instance.store).start()
    yield live
    live.stop()
