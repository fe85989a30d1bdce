"""Fault-injection helpers for the federation tests: real processes, real servers.

* :func:`build_site` makes a SQLite instance (organisations, an analyst, a sync account
  for the partner, a collection ``shared`` full of versions with every TLP marking) once;
  :func:`clone` copies it for each test.
* :class:`ServeProcess` runs ``tansiq serve`` as a subprocess that a test can SIGKILL and
  restart on the same port; :func:`start_cli` / :func:`run_cli` run other commands.
* :class:`FaultProxy` is a Starlette app on a real uvicorn server in front of a real peer
  that answers 5xx, 429 with Retry-After, truncated or cut bodies, or stalls, as a plan
  decides per request, and records every request it sees.
* :class:`StallServer` accepts connections and never answers.
* :class:`ProgressKiller` fires an action (a kill) each time a progress counter passes
  one of its random thresholds.
* :func:`fault_seed` gives the seed of a test's random choices (``TANSIQ_FAULT_SEED``
  replays a run).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tansiq.access import admin
from tansiq.federation.peers import Registry
from tansiq.federation.secrets import SecretBox
from tansiq.ingest.bundle import write_objects
from tansiq.stix.markings import TLP2_BY_NAME
from tansiq.storage.base import ApiRoot
from tansiq.storage.sqlite import SQLiteStore
from tests.conftest import free_port

TAXII = "application/taxii+json;version=2.1"
SEED_ENV = "TANSIQ_FAULT_SEED"
MARKS: tuple[str | None, ...] = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED", None)
TLP = {k.removeprefix("TLP:"): v for k, v in TLP2_BY_NAME.items()}
_NAMESPACE = uuid.UUID("6f1c2f0e-3d4b-4a77-9a55-0c1d2e3f4a5b")


def fault_seed() -> int:
    """The seed of a test's random choices: ``TANSIQ_FAULT_SEED`` if set, else a new one."""
    text = os.environ.get(SEED_ENV, "").strip()
    return int(text) if text else random.SystemRandom().randrange(2**32)


def org_of(name: str) -> str:
    return f"Agency {name.upper()}"


# --------------------------------------------------------------------------- sites


@dataclass
class Site:
    """One instance's SQLite database and what a test needs to know about it."""

    name: str
    db: Path
    collection: str  # id of "shared"
    tokens: dict[str, str] = field(default_factory=dict)  # user name -> token

    @property
    def key_file(self) -> Path:
        """Where ``tansiq serve`` and ``tansiq sync`` look for the peer key by default."""
        return Path(f"{self.db}.peer-key")

    def open(self) -> SQLiteStore:
        return SQLiteStore(self.db)

    def registry(self, store: SQLiteStore) -> Registry:
        return Registry(store, SecretBox(self.key_file))

    def analyst(self) -> str:
        return f"{self.name}-analyst"


def indicator(site: str, n: int, version: int, marking: str | None) -> dict[str, Any]:
    created = "2026-01-01T00:00:00.000Z"
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(_NAMESPACE, f'{site}-{n}')}",
        "created": created,
        "modified": f"2026-01-{1 + version:02d}T00:00:00.000Z",
        "name": f"{site} indicator {n} v{version}",
        "pattern": f"[ipv4-addr:value = '10.{n // 62500}.{n // 250 % 250}.{n % 250}']",
        "pattern_type": "stix",
        "valid_from": created,
    }
    if marking is not None:
        obj["object_marking_refs"] = [TLP[marking]]
    return obj


def build_site(
    folder: Path,
    name: str,
    partner: str,
    *,
    objects: int,
    versions: int,
    max_content_length: int | None = None,
) -> Site:
    """An instance ``name`` whose partner ``partner`` has a sync account here; ``shared``
    holds ``objects`` indicators (markings in turn: CLEAR, GREEN, AMBER, AMBER+STRICT,
    RED, none) with ``versions`` versions each, written version after version."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"{name}.db"
    store = SQLiteStore(db)
    try:
        store.migrate()
        if max_content_length is not None:
            store.add_api_root(
                ApiRoot(name="default", title="Default", max_content_length=max_content_length)
            )
        admin.ensure_api_root(store)
        orgs = [org_of(name), org_of(partner)]
        for org in orgs:
            admin.add_org(store, org)
        tokens = {
            f"{name}-analyst": admin.add_user(store, f"{name}-analyst", orgs[0], "analyst").token,
            f"sync-{partner}": admin.add_user(store, f"sync-{partner}", orgs[1], "sync").token,
        }
        coll = admin.add_collection(store, "Shared", alias="shared", read=orgs, write=orgs)
        writer = admin.principal(store, f"{name}-analyst")
        for v in range(versions):
            batch = [indicator(name, n, v, MARKS[n % len(MARKS)]) for n in range(objects)]
            bad = [r for r in write_objects(store, coll.id, writer, batch) if not r.ok]
            assert not bad, bad[:3]
    finally:
        store.close()
    checkpoint(db)
    return Site(name, db, coll.id, tokens)


def checkpoint(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def clone(site: Site, folder: Path) -> Site:
    """A copy of ``site``'s database (closed) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / site.db.name
    target.write_bytes(site.db.read_bytes())
    return Site(site.name, target, site.collection, dict(site.tokens))


# --------------------------------------------------------------------------- sets


def _read(db: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return list(conn.execute(sql, args).fetchall())
    finally:
        conn.close()


def count(site: Site) -> int:
    """How many versions ``shared`` holds (cheap; safe while another process writes)."""
    rows = _read(
        site.db, "SELECT count(*) FROM objects WHERE collection_id = ?", (site.collection,)
    )
    return int(rows[0][0])


@dataclass(frozen=True)
class Row:
    id: str
    version: str
    peer: str | None
    json: bytes

    @property
    def key(self) -> tuple[str, str]:
        return (self.id, self.version)

    @property
    def red(self) -> bool:
        return TLP["RED"] in orjson.loads(self.json).get("object_marking_refs", [])


def rows(site: Site) -> list[Row]:
    store = site.open()
    try:
        return [
            Row(v.id, v.version, v.peer, bytes(v.json))
            for v in store.iter_versions(site.collection)
        ]
    finally:
        store.close()


def own(site: Site, *, travelling: bool = False) -> dict[tuple[str, str], bytes]:
    """The versions written on ``site`` itself (not received from a peer); with
    ``travelling``, only those a partner may receive (every marking but TLP:RED: the
    partner acts for an organisation granted on ``shared``)."""
    return {r.key: r.json for r in rows(site) if r.peer is None and not (travelling and r.red)}


def exact_problems(
    site: Site, expected: Mapping[tuple[str, str], bytes], seed: int | None = None
) -> list[str]:
    """What differs between ``site``'s ``shared`` and ``expected`` (each version exactly
    once, with the same bytes); empty when they are the same."""
    got = rows(site)
    seen = Counter(r.key for r in got)
    problems = []
    dupes = [k for k, n in seen.items() if n > 1]
    missing = [k for k in expected if k not in seen]
    extra = [k for k in seen if k not in expected]
    changed = [r.key for r in got if r.key in expected and r.json != expected[r.key]]
    for label, items in (
        ("duplicated", dupes),
        ("missing", missing),
        ("unexpected", extra),
        ("different bytes", changed),
    ):
        if items:
            problems.append(f"{site.name}: {len(items)} {label} versions, e.g. {items[:3]}")
    if problems and seed is not None:
        problems.append(f"(seed {seed}; rerun with {SEED_ENV}={seed})")
    return problems


def provenance_problems(site: Site, received: Iterable[tuple[str, str]], peer: str) -> list[str]:
    """Versions of ``received`` that ``site`` does not record as coming from ``peer``."""
    wanted = set(received)
    wrong = [(r.key, r.peer) for r in rows(site) if r.key in wanted and r.peer != peer]
    return (
        [f"{site.name}: {len(wrong)} versions not from {peer}, e.g. {wrong[:3]}"] if wrong else []
    )


# --------------------------------------------------------------------------- processes


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    drop = {"TANSIQ_DATABASE", "TANSIQ_PEER_KEY_FILE", "TANSIQ_PUBLIC_URL"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra or {})
    return env


def tansiq_argv(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tansiq", "--database", str(db), *args]


def start_cli(
    db: Path, *args: str, log: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``tansiq --database DB ARGS...`` in the background; its output goes to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            tansiq_argv(db, *args),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=cli_env(env),
        )


def run_cli(
    db: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tansiq_argv(db, *args),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=cli_env(env),
        timeout=timeout,
    )


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class ServeProcess:
    """``tansiq serve`` on a fixed port, as a real process a test can kill and restart."""

    def __init__(
        self,
        db: Path,
        log: Path,
        *,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.db = db
        self.log = log
        self.port = port or free_port()
        self.env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def discovery(self) -> str:
        return f"{self.url}/taxii2/"

    def launch(self) -> ServeProcess:
        """Start the process without waiting for it to listen."""
        self.proc = start_cli(
            self.db, "serve", "--port", str(self.port), log=self.log, env=self.env
        )
        self.starts += 1
        return self

    def wait_ready(self, timeout: float = 20.0) -> ServeProcess:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"tansiq serve exited with {self.proc.returncode}:\n{tail(self.log)}"
                )
            try:
                httpx.get(self.discovery, timeout=0.5)
                return self
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"tansiq serve did not start:\n{tail(self.log)}") from None
                time.sleep(0.05)

    def start(self, timeout: float = 20.0) -> ServeProcess:
        return self.launch().wait_ready(timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; the port is free again at once."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.kills += 1

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


# --------------------------------------------------------------------------- servers


class UvicornThread:
    """Any ASGI app on a real uvicorn server in a background thread."""

    def __init__(self, app: Any, *, port: int | None = None, log_level: str = "warning") -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level=log_level, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


FaultKind = Literal["status", "throttle", "truncate", "cut", "delay"]


@dataclass(frozen=True)
class Fault:
    """What the proxy does to one request instead of relaying it faithfully.

    * ``status``: answer ``status`` (a TAXII error body) without asking the peer;
    * ``throttle``: answer 429 with ``Retry-After: retry_after``;
    * ``truncate``: relay, then send the first half of the body (a short, invalid JSON);
    * ``cut``: relay, then announce the whole body's length and close after half of it;
    * ``delay``: wait ``seconds`` (beyond the client's timeout), then relay.
    """

    kind: FaultKind
    status: int = 503
    retry_after: str = "1"
    seconds: float = 0.0

    @property
    def label(self) -> str:
        if self.kind == "status":
            return str(self.status)
        if self.kind == "throttle":
            return "429"
        return self.kind


@dataclass
class Call:
    """One request the proxy saw."""

    n: int
    method: str
    path: str
    query: str
    client_port: int
    start: float
    end: float = 0.0
    status: int | None = None
    fault: str | None = None


Plan = Callable[[Call], Fault | None]
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


class _CutResponse(Response):
    """Announces the whole body in Content-Length, sends half and ends: the server then
    drops the connection (a transfer broken mid-way)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        half = bytes(self.body[: len(self.body) // 2])
        await send({"type": "http.response.body", "body": half, "more_body": False})


class FaultProxy:
    """A Starlette app on uvicorn relaying to ``upstream`` (keeping the Host header, so
    that the peer's URLs name the proxy), with faults from ``plan``."""

    def __init__(self, upstream: str, plan: Plan | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.plan = plan
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._client: httpx.AsyncClient | None = None

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            async with httpx.AsyncClient(timeout=60) as client:
                self._client = client
                yield

        methods = ["GET", "POST", "DELETE", "HEAD", "PUT"]
        app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=methods)], lifespan=lifespan
        )
        # a cut transfer makes uvicorn log an error: expected here, not worth a trace
        self.server = UvicornThread(app, log_level="critical")

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def discovery(self) -> str:
        return f"{self.url}/taxii2/"

    def start(self) -> FaultProxy:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.calls)

    async def _handle(self, request: Request) -> Response:
        client = request.client
        with self._lock:
            call = Call(
                n=len(self.calls),
                method=request.method,
                path=request.url.path,
                query=request.url.query,
                client_port=client.port if client else 0,
                start=time.monotonic(),
            )
            self.calls.append(call)
        try:
            fault = self.plan(call) if self.plan is not None else None
            call.fault = fault.label if fault else None
            response = await self._respond(request, fault)
            call.status = response.status_code
            return response
        finally:
            call.end = time.monotonic()

    async def _respond(self, request: Request, fault: Fault | None) -> Response:
        if fault is not None and fault.kind == "status":
            return _error(fault.status)
        if fault is not None and fault.kind == "throttle":
            return _error(429, {"Retry-After": fault.retry_after})
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        assert self._client is not None
        url = self.upstream + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        headers = [
            (k, v)
            for k, v in request.headers.items()
            if k.lower() not in _HOP and k.lower() != "accept-encoding"
        ]
        upstream = await self._client.request(
            request.method, url, headers=headers, content=await request.body()
        )
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP}
        body = upstream.content
        if fault is not None and fault.kind == "truncate":
            return Response(body[: len(body) // 2], upstream.status_code, headers=out)
        if fault is not None and fault.kind == "cut":
            return _CutResponse(body, upstream.status_code, headers=out)
        return Response(body, upstream.status_code, headers=out)


def _error(status: int, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps({"title": "injected fault", "http_status": str(status)})
    return Response(body, status, headers=headers, media_type=TAXII)


def sessions(calls: Iterable[Call]) -> list[tuple[float, float, int]]:
    """(first start, last end, client port) per client connection, by first start."""
    spans: dict[int, list[float]] = {}
    for c in calls:
        span = spans.setdefault(c.client_port, [c.start, c.end])
        span[0] = min(span[0], c.start)
        span[1] = max(span[1], c.end)
    return sorted((s, e, port) for port, (s, e) in spans.items())


class StallServer:
    """Accepts TCP connections and never answers (a peer that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def discovery(self) -> str:
        return f"http://127.0.0.1:{self.port}/taxii2/"

    def start(self) -> StallServer:
        self.thread.start()
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            self.accepted += 1

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        for conn in self._conns:
            conn.close()
        self.sock.close()


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    return free_port()


# --------------------------------------------------------------------------- chaos


@dataclass
class Hit:
    threshold: int
    progress: int  # when the action fired
    at: float


class ProgressKiller(threading.Thread):
    """Fires ``action(i)`` once ``progress()`` has passed ``thresholds[i]`` (then waits a
    random moment from ``delays[i]``), for each threshold in turn."""

    def __init__(
        self,
        progress: Callable[[], int],
        thresholds: list[int],
        delays: list[float],
        action: Callable[[int], None],
        *,
        poll: float = 0.005,
        timeout: float = 60.0,
    ) -> None:
        super().__init__(daemon=True)
        self.progress = progress
        self.thresholds = thresholds
        self.delays = delays
        self.action = action
        self.poll = poll
        self.timeout = timeout
        self.hits: list[Hit] = []
        self.error: BaseException | None = None
        self.cancelled = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        try:
            for i, threshold in enumerate(self.thresholds):
                while (now := self.progress()) < threshold:
                    if self.cancelled.is_set() or time.monotonic() > deadline:
                        return
                    time.sleep(self.poll)
                time.sleep(self.delays[i])
                self.hits.append(Hit(threshold, now, time.monotonic()))
                self.action(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def random_thresholds(rng: random.Random, low: int, high: int, n: int) -> list[int]:
    """``n`` distinct increasing integers drawn in [low, high]."""
    return sorted(rng.sample(range(low, high + 1), n))


def read_lease(db: Path, name: str) -> tuple[str, str] | None:
    """(holder, expires) of the lease ``name``, or None."""
    found = _read(db, "SELECT holder, expires FROM leases WHERE name = ?", (name,))
    return (str(found[0][0]), str(found[0][1])) if found else None
