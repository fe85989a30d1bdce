"""Helpers for the deployment tests: real ``tansiq serve`` processes, the documented
scripts run in bash, a round-robin HTTP proxy standing in for a load balancer, and
throwaway PostgreSQL roles and databases."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import free_port
from tests.storage import pg_support

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
TAXII = "application/taxii+json;version=2.1"
TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
BIN = Path(sys.executable).parent


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a ``tansiq`` process: this virtualenv first on the PATH, no
    inherited Tansiq or libpq settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TANSIQ_", "PG")) or k == pg_support.ENV_URL
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def tansiq(*args: str, database: str, input: str = "", check: bool = True) -> str:
    """Run the real ``tansiq`` command; its standard output (fails the test on error)."""
    proc = subprocess.run(
        [sys.executable, "-m", "tansiq", "--database", database, *args],
        input=input,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=180,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"tansiq {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def export_objects(database: str, collection: str = "shared") -> list[Any]:
    """Every version of a collection, as exported (the bundle's own id differs per run)."""
    bundle = json.loads(tansiq("export", "--collection", collection, database=database))
    objects: list[Any] = bundle["objects"]
    return objects


# --------------------------------------------------------------------------- serve


class Serve:
    """``tansiq serve`` in a subprocess of its own process group, on a free port."""

    def __init__(
        self, database: str, log: Path, *, workers: int = 1, env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._log_file = log.open("ab")
        argv = [sys.executable, "-m", "tansiq", "--database", database, "serve"]
        argv += ["--port", str(self.port), "--workers", str(workers)]
        self.proc = subprocess.Popen(
            argv,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=clean_env(**(env or {})),
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 90.0) -> Serve:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"tansiq serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/openapi.json", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"tansiq serve did not answer: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self._log_file.close()


@contextmanager
def serving(
    database: str, log: Path, *, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[Serve]:
    server = Serve(database, log, workers=workers, env=env)
    try:
        yield server.wait_ready()
    finally:
        server.stop()


# --------------------------------------------------------------------------- scripts


@dataclass
class ScriptRun:
    code: int
    out: str
    err: str


def run_scripts(*names: str, cwd: Path, env: dict[str, str], timeout: float = 300) -> ScriptRun:
    """Source the given docs/examples scripts, in order, in one bash shell (as a reader
    pasting one section after the other into one terminal)."""
    body = "; ".join(f'source "{EXAMPLES / name}"' for name in names)
    proc = subprocess.Popen(
        ["bash", "-c", f"set -euo pipefail; {body}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the servers it starts can be killed with it
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{names} timed out:\n{out}\n{err}") from None
    return ScriptRun(proc.returncode, out, err)


def script_body(name: str) -> list[str]:
    """The non-blank lines of a script after its header (shebang, comments, ``set``)."""
    lines = (EXAMPLES / name).read_text().splitlines()
    start = lines.index("set -euo pipefail") + 1
    return [line for line in lines[start:] if line.strip()]


def doc_blocks(name: str) -> list[list[str]]:
    """The ```sh blocks of docs/deploy.md marked ``<!-- script: NAME -->``."""
    blocks = re.findall(
        rf"<!-- script: {re.escape(name)} -->\n```sh\n(.*?)\n```", DEPLOY_DOC.read_text(), re.S
    )
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


def requires(*programs: str) -> Any:
    missing = [p for p in programs if shutil.which(p) is None]
    return pytest.mark.skipif(bool(missing), reason=f"not installed: {', '.join(missing)}")


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class PgTarget:
    """A PostgreSQL server for a script: the libpq variables of a superuser, and unique
    role and database names (dropped afterwards)."""

    admin_url: str
    name: str = field(default_factory=lambda: f"tansiq_deploy_{uuid.uuid4().hex[:10]}")

    def libpq_env(self) -> dict[str, str]:
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(self.admin_url)
        env = {"DB_NAME": self.name, "DB_USER": self.name}
        for key, var in [
            ("host", "PGHOST"),
            ("port", "PGPORT"),
            ("user", "PGUSER"),
            ("password", "PGPASSWORD"),
            ("dbname", "PGDATABASE"),
        ]:
            if info.get(key):
                env[var] = str(info[key])
        return env

    def url(self, dbname: str | None = None) -> str:
        """A superuser URL of one of the script's databases."""
        return pg_support.with_dbname(self.admin_url, dbname or self.name)

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for db in (self.name, f"{self.name}_restored", f"{self.name}_before_restore"):
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{self.name}"')


@contextmanager
def pg_target() -> Iterator[PgTarget]:
    reason = pg_support.unavailable()
    if reason:
        pytest.skip(reason)
    target = PgTarget(pg_support.server().admin_url)
    try:
        yield target
    finally:
        target.drop()


# --------------------------------------------------------------------------- load balancer


class RoundRobinProxy:
    """A minimal HTTP reverse proxy sending each request to the next backend in turn:
    what a load balancer without sticky sessions does, in front of the API hosts."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.served: list[tuple[str, str, str]] = []  # (method, path?query, backend)
        self._turn = itertools.count()
        self.errors: list[str] = []
        app = Starlette(
            routes=[Route("/{path:path}", self._forward, methods=["GET", "POST", "DELETE"])]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    async def _forward(self, request: Request) -> Response:
        backend = self.backends[next(self._turn) % len(self.backends)]
        target = backend + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        self.served.append((request.method, target[len(backend) :], backend))
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in {"host", "content-length", "connection"}
        }
        try:
            async with httpx.AsyncClient(timeout=60) as client:
                answer = await client.request(
                    request.method, target, headers=headers, content=await request.body()
                )
        except httpx.HTTPError as exc:
            self.errors.append(f"{backend}: {exc!r}")
            return Response(f"backend {backend} failed: {exc}", status_code=502)
        skip = {"content-length", "content-encoding", "transfer-encoding", "connection"}
        return Response(
            answer.content,
            status_code=answer.status_code,
            headers={k: v for k, v in answer.headers.items() if k.lower() not in skip},
        )

    def start(self) -> RoundRobinProxy:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the proxy did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


# --------------------------------------------------------------------------- STIX


def indicator(object_id: str, modified: str, name: str) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": object_id,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": modified,
        "name": name,
        "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "object_marking_refs": [TLP_GREEN],
    }
