"""A throwaway PostgreSQL server for the tests, and the "postgres" storage backend.

If TANSIQ_TEST_PG_URL is set (a superuser or CREATEDB role on a running server, e.g. the
cluster that ``.ci/postgres.sh start`` prints), tests use it. Otherwise the first test
that needs PostgreSQL starts a private cluster for this test process (each xdist worker
gets its own): ``initdb`` into a temporary directory (as the ``postgres`` user when the
tests run as root, since initdb refuses root), ``pg_ctl start`` on a free loopback port
with a private socket directory, trust authentication and no fsync. It is stopped and
removed when the process exits; a small watchdog process also removes it if the test
process dies without cleaning up (killed, crashed).

Each test gets a database of its own holding a migrated, empty store: created from a
migrated template, then emptied and reused by the next test (cheaper than CREATE
DATABASE under load). ``blank_database()`` gives a database with no schema at all (what
``tansiq init`` meets), ``copy_of(url)`` a copy of a closed one (CREATE DATABASE ...
TEMPLATE). Databases made on a TANSIQ_TEST_PG_URL server are dropped at exit. Without
the server binaries on the PATH and without TANSIQ_TEST_PG_URL, the postgres params are
skipped with the reason.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV_URL = "TANSIQ_TEST_PG_URL"
OS_USER = "postgres"  # who runs initdb/pg_ctl when the tests run as root

# --------------------------------------------------------------------------- availability


def unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        return 'psycopg 3 is not installed (pip install "psycopg[binary]" psycopg-pool)'
    if os.environ.get(ENV_URL):
        return None
    missing = [b for b in ("initdb", "pg_ctl", "postgres") if shutil.which(b) is None]
    if missing:
        return (
            f"PostgreSQL server binaries not on the PATH ({', '.join(missing)}); "
            f"install PostgreSQL 15 or set {ENV_URL}"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return f"tests run as root and there is no '{OS_USER}' user to run initdb as"
        if shutil.which("runuser") is None and shutil.which("su") is None:
            return "tests run as root and neither runuser nor su is available"
    return None


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", OS_USER, "--", *cmd]
    return ["su", OS_USER, "-s", "/bin/sh", "-c", " ".join(_quote(c) for c in cmd)]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_dbname(url: str, dbname: str) -> str:
    """The same connection string naming another database."""
    if url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))
    from psycopg.conninfo import make_conninfo

    return make_conninfo(url, dbname=dbname)


def dbname(url: str) -> str:
    """The database a connection string names."""
    from psycopg.conninfo import conninfo_to_dict

    return str(conninfo_to_dict(url)["dbname"])


# --------------------------------------------------------------------------- the cluster


class Cluster:
    """A private PostgreSQL cluster in a temporary directory."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tansiq-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self._watchdog: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd: list[str], what: str) -> None:
        done = subprocess.run(
            _as_server_user(cmd),
            capture_output=True,
            text=True,
            timeout=120,
            start_new_session=True,  # Ctrl-C in the terminal is not sent to the server
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{what} failed ({done.returncode}): {done.stdout}{done.stderr}\n{log}".strip()
            )

    def start(self) -> Cluster:
        # the watchdog first: whatever happens from here on, the directory goes away
        self._watchdog = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--watchdog", str(self.root)],
            stdin=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            if os.geteuid() == 0:
                info = pwd.getpwnam(OS_USER)
                os.chown(self.root, info.pw_uid, info.pw_gid)
            self._run(
                [
                    "initdb",
                    "-D",
                    str(self.data),
                    "--auth=trust",
                    "--username=postgres",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                ],
                "initdb",
            )
            for attempt in range(5):
                self.port = free_port()
                options = (
                    f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                    "-c max_connections=200 -c shared_buffers=64MB"
                )
                try:
                    self._run(
                        [
                            "pg_ctl",
                            "start",
                            "-w",
                            "-t",
                            "60",
                            "-D",
                            str(self.data),
                            "-l",
                            str(self.log),
                            "-o",
                            options,
                        ],
                        "pg_ctl start",
                    )
                    return self
                except RuntimeError:
                    if attempt == 4:  # the port was taken meanwhile: try another
                        raise
        except BaseException:
            self.stop()
            raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(
                    ["pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w"],
                    "pg_ctl stop",
                )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            if self._watchdog is not None:
                if self._watchdog.stdin is not None:
                    self._watchdog.stdin.close()  # EOF: the watchdog exits (nothing left)
                self._watchdog.wait(timeout=30)
                self._watchdog = None


def _watchdog(root: str) -> None:
    """Wait until the test process goes away (stdin EOF), then remove its cluster."""
    sys.stdin.buffer.read()
    data = Path(root) / "data"
    if (data / "postmaster.pid").exists():
        subprocess.run(
            _as_server_user(["pg_ctl", "stop", "-D", str(data), "-m", "immediate", "-w"]),
            capture_output=True,
            timeout=60,
        )
    shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- the server


def _delete_order(conn: Any) -> list[str]:
    """The tables of the current schema (but schema_migrations), each after every table
    whose foreign keys point at it, so that plain DELETEs never break a reference."""
    tables = {
        r[0]: r[1]
        for r in conn.execute(
            "SELECT c.oid, format('%I.%I', n.nspname, c.relname) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() "
            "AND c.relname <> 'schema_migrations'"
        )
    }
    referenced_by: dict[int, set[int]] = {oid: set() for oid in tables}
    for child, parent in conn.execute(
        "SELECT conrelid, confrelid FROM pg_constraint WHERE contype = 'f'"
    ):
        if child in tables and parent in tables and child != parent:
            referenced_by[parent].add(child)
    order: list[str] = []
    done: set[int] = set()

    def visit(oid: int) -> None:
        if oid in done:
            return
        done.add(oid)
        for child in sorted(referenced_by[oid]):
            visit(child)
        order.append(tables[oid])

    for oid in sorted(tables):
        visit(oid)
    return order


class Server:
    """Where test databases come from: the env URL's server or a private cluster.

    Databases are created from a migrated template and recycled: when a test is done its
    database is emptied (every table but schema_migrations, sequences restarted) and
    handed to the next test, which is several times cheaper than CREATE DATABASE.
    """

    def __init__(self) -> None:
        self.cluster: Cluster | None = None
        url = os.environ.get(ENV_URL)
        if not url:
            self.cluster = Cluster().start()
            url = self.cluster.url
        self.admin_url = url
        self._names = itertools.count(1)
        self._prefix = f"tansiq_test_{os.getpid()}_{secrets.token_hex(3)}"
        self._template: str | None = None
        self._free: list[str] = []
        self._created: list[str] = []
        self._lock = threading.Lock()

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)  # names made here, quoted

    def _create(self, template: str) -> str:
        name = f"{self._prefix}_{next(self._names)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self._created.append(name)
        return name

    def _template_name(self) -> str:
        if self._template is None:
            from tansiq.storage.postgres import PostgresStore

            name = self._create("template0")
            store = PostgresStore(with_dbname(self.admin_url, name), max_size=1)
            try:
                store.migrate()
            finally:
                store.close()
            self._template = name
        return self._template

    def acquire(self) -> str:
        """The URL of an empty, migrated database for one test."""
        with self._lock:
            if self._free:
                return self._free.pop()
            return with_dbname(self.admin_url, self._create(self._template_name()))

    def release(self, url: str) -> None:
        """Empty the database and keep it for the next test (drop it if that fails)."""
        import psycopg

        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                tables = _delete_order(conn)
                with conn.transaction():
                    for table in tables:
                        conn.execute(f"DELETE FROM {table}")
                    conn.execute(
                        "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) "
                        "FROM pg_sequences WHERE schemaname = current_schema()"
                    )
        except psycopg.Error as exc:
            warnings.warn(
                f"could not empty test database for reuse, dropping it: {exc}", stacklevel=2
            )
            self._drop(url)
            return
        with self._lock:
            self._free.append(url)

    def blank(self) -> str:
        """The URL of a new database with no schema at all (what ``tansiq init`` meets on
        a database an operator has just created); not recycled: :meth:`discard` it."""
        with self._lock:
            name = self._create("template0")
        return with_dbname(self.admin_url, name)

    def clone(self, url: str) -> str:
        """The URL of a new database holding a copy of the one at ``url`` (which nobody
        may be connected to); it is migrated, so :meth:`release` recycles it."""
        with self._lock:
            name = self._create(dbname(url))
        return with_dbname(self.admin_url, name)

    def discard(self, url: str) -> None:
        """Drop a database made here (connections to it are ended first)."""
        self._drop(url)
        with self._lock, contextlib.suppress(ValueError):
            self._created.remove(dbname(url))

    def _drop(self, url: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{dbname(url)}" WITH (FORCE)')

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()  # removes every database with it
            self.cluster = None
            return
        for name in reversed(self._created):  # a shared server: leave nothing behind
            with contextlib.suppress(Exception):  # best effort at exit
                self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()


_server: Server | None = None
_server_lock = threading.Lock()


def server() -> Server:
    """This process's test server, started on first use and stopped at exit."""
    global _server
    with _server_lock:
        if _server is None:
            reason = unavailable()
            if reason:
                pytest.skip(reason)
            _server = Server()
            atexit.register(_server.stop)
        return _server


@contextmanager
def database() -> Iterator[str]:
    """A migrated database with no data, for one test (recycled afterwards); yields its URL."""
    srv = server()
    url = srv.acquire()
    try:
        yield url
    finally:
        srv.release(url)


def drop_connections(url: str) -> int:
    """End every session on the database at ``url`` (as a server restart or a failover
    does to a client's pooled connections); how many were ended."""
    import psycopg

    with psycopg.connect(server().admin_url, autocommit=True) as conn:
        return len(
            conn.execute(
                # the timeout: wait until each session has actually ended
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname(url),),
            ).fetchall()
        )


@contextmanager
def unreachable(url: str) -> Iterator[None]:
    """While the block runs, the database at ``url`` refuses connections and the ones it
    had are ended (as when its server is down); afterwards it is back."""
    import psycopg

    name = dbname(url)
    with psycopg.connect(server().admin_url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    try:
        drop_connections(url)
        yield
    finally:
        with psycopg.connect(server().admin_url, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


@contextmanager
def blank_database() -> Iterator[str]:
    """A database with no schema at all (not even migrated), dropped afterwards."""
    srv = server()
    url = srv.blank()
    try:
        yield url
    finally:
        srv.discard(url)


@contextmanager
def copy_of(url: str) -> Iterator[str]:
    """A copy of the (migrated) database at ``url``, which nobody may be connected to;
    recycled like :func:`database` afterwards."""
    srv = server()
    copy = srv.clone(url)
    try:
        yield copy
    finally:
        srv.release(copy)


# --------------------------------------------------------------------------- the backend


@contextmanager
def postgres_backend(tmp: Path) -> Iterator[Any]:
    """Backend factory for tests/storage/conftest.py: a migrated, empty PostgresStore."""
    from tansiq.storage.postgres import PostgresStore

    with database() as url:
        store = PostgresStore(url, max_size=4)
        try:
            store.migrate()
            yield store
        finally:
            store.close()


def postgres_param() -> Any:
    """The ``pytest.param`` to add to BACKENDS (skipped, with the reason, when unusable)."""
    reason = unavailable()
    return pytest.param(
        postgres_backend,
        id="postgres",
        marks=pytest.mark.skipif(reason is not None, reason=reason or ""),
    )


if __name__ == "__main__" and sys.argv[1:2] == ["--watchdog"]:
    _watchdog(sys.argv[2])
