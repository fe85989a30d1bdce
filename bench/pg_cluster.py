"""A throwaway PostgreSQL cluster for the benchmark, removed when the run ends.

``initdb`` into a fresh temporary directory (as the ``postgres`` user when the runner is
root: initdb refuses root), ``pg_ctl start`` on a free loopback port with a private socket
directory and trust authentication, like .ci/postgres.sh and the tests' cluster. Unlike
those, durability is *not* switched off: fsync and full-page writes stay on, and only
``synchronous_commit=off`` is set, the counterpart of the SQLite store's WAL +
``synchronous=NORMAL`` (a crash of the machine may lose the last commits, never corrupt
the database). The settings used are in :data:`SETTINGS` and go into the report.

``stop()`` stops the server and removes the directory; a small watchdog process removes
it as well if the runner dies without cleaning up (killed, crashed).

    with Cluster.start(log) as cluster:
        url = cluster.create_database("bench_10000")
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench import procs

OS_USER = "postgres"  # who runs initdb / pg_ctl / postgres when the runner is root
#: Server settings (beyond port, socket directory and listen address), reported as used.
SETTINGS: dict[str, str] = {
    "synchronous_commit": "off",  # like SQLite WAL + synchronous=NORMAL
    "shared_buffers": "512MB",
    "max_wal_size": "4GB",  # a bulk import checkpoints on time, not on WAL volume
    "max_connections": "100",
}


def unavailable() -> str | None:
    """Why the benchmark cannot start a PostgreSQL cluster here, or None when it can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return 'psycopg 3 is not installed (pip install "psycopg[binary]" psycopg-pool)'
    missing = [b for b in ("initdb", "pg_ctl", "postgres") if shutil.which(b) is None]
    if missing:
        return f"PostgreSQL server binaries not on the PATH: {', '.join(missing)}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return f"running as root and there is no '{OS_USER}' user to run initdb as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is not available"
    return None


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", OS_USER, "--", *cmd] if os.geteuid() == 0 else cmd


def with_dbname(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def server_version() -> str:
    done = subprocess.run(["postgres", "--version"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip() or "unknown"


class Cluster:
    """A private cluster in a temporary directory; use ``Cluster.start()``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.log_path = root / "server.log"
        self.port = 0
        self._watchdog: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @classmethod
    def start(cls, log: Any = print) -> Cluster:
        reason = unavailable()
        if reason:
            raise RuntimeError(f"cannot start PostgreSQL: {reason}")
        root = Path(tempfile.mkdtemp(prefix="tansiq-bench-pg-"))
        cluster = cls(root)
        cluster._watchdog = subprocess.Popen(
            [sys.executable, "-m", "bench.pg_cluster", "--watchdog", str(root)],
            cwd=procs.ROOT,
            stdin=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C in the terminal reaches the runner only
        )
        try:
            cluster._start()
        except BaseException:
            cluster.stop()
            raise
        log(f"PostgreSQL cluster in {root} listening on 127.0.0.1:{cluster.port}")
        return cluster

    def _run(self, cmd: list[str], what: str, timeout: float = 180) -> None:
        done = subprocess.run(
            _as_server_user(cmd),
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
        if done.returncode != 0:
            tail = self.server_log()[-2000:]
            raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr}{tail}".strip())

    def _start(self) -> None:
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
                "--no-sync",  # initdb's own files only; the server itself fsyncs
            ],
            "initdb",
        )
        extra = " ".join(f"-c {k}={v}" for k, v in SETTINGS.items())
        for attempt in range(5):  # the free port may be taken before the server binds it
            self.port = procs.free_port()
            options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 {extra}"
            try:
                self._run(
                    [
                        "pg_ctl",
                        "start",
                        "-w",
                        "-t",
                        "120",
                        "-D",
                        str(self.data),
                        "-l",
                        str(self.log_path),
                        "-o",
                        options,
                    ],
                    "pg_ctl start",
                )
                return
            except RuntimeError:
                if attempt == 4:
                    raise

    def server_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server (if running) and remove the cluster's directory."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(
                    ["pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "120"],
                    "pg_ctl stop",
                )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            if self._watchdog is not None:
                if self._watchdog.stdin is not None:
                    self._watchdog.stdin.close()  # EOF: the watchdog finds nothing left
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._watchdog.wait(timeout=60)
                self._watchdog = None

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ databases

    def execute(self, sql: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement (autocommit) as the superuser; its rows, if any."""
        import psycopg

        with psycopg.connect(with_dbname(self.url, dbname), autocommit=True) as conn:
            cur = conn.execute(sql)  # statements built here from fixed names
            return list(cur.fetchall()) if cur.description else []

    def create_database(self, name: str) -> str:
        """A new, empty database; its URL."""
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.execute(f'CREATE DATABASE "{name}"')
        return with_dbname(self.url, name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def database_bytes(self, name: str) -> int:
        rows = self.execute(f"SELECT pg_database_size('{name}')")
        return int(rows[0][0]) if rows else 0

    # ------------------------------------------------------------------ the server's processes

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system) the server has used so far: the postmaster and
        every server process alive, plus the exited ones (reaped by the postmaster, so in
        its children's times). The difference of two readings is the server's CPU in
        between, connections that closed meanwhile included."""
        pid = self.postmaster_pid()
        if pid is None:
            return 0.0
        try:
            import psutil

            root = psutil.Process(pid)
            t = root.cpu_times()
            total = t.user + t.system + t.children_user + t.children_system
            for p in root.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    total += t.user + t.system
            return total
        except Exception:
            return 0.0

    def memory_bytes(self) -> int:
        """Memory of the server's processes now: the sum of their proportional set sizes
        (PSS: shared pages, such as shared_buffers, divided among the processes that map
        them, so the sum counts them once)."""
        pid = self.postmaster_pid()
        if pid is None:
            return 0
        try:
            import psutil

            root = psutil.Process(pid)
            total = 0
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_full_info().pss
            return total
        except Exception:
            return 0


def _watchdog(root: str) -> None:
    """Wait until the runner goes away (stdin EOF), then remove its cluster if left."""
    sys.stdin.buffer.read()
    data = Path(root) / "data"
    if (data / "postmaster.pid").exists():
        subprocess.run(
            _as_server_user(["pg_ctl", "stop", "-D", str(data), "-m", "immediate", "-w"]),
            capture_output=True,
            timeout=120,
        )
    for _ in range(3):
        shutil.rmtree(root, ignore_errors=True)
        if not Path(root).exists():
            break
        time.sleep(1)


if __name__ == "__main__" and sys.argv[1:2] == ["--watchdog"]:
    _watchdog(sys.argv[2])
