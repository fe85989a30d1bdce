"""Sync a peer (all its mappings), keep its status, back off when it fails, and run the
due peers once across every process that shares the database.

A peer is synced under the lease ``peer:NAME`` (renewed after every page), so that two
``serve`` processes, hosts or ``tansiq sync`` commands never sync the same peer at once;
a process killed mid-sync lets another take over once its lease runs out. A failing peer
is retried after an exponential backoff with jitter (at least what its Retry-After
asked), and never delays the other peers: each due peer runs in its own thread.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from tansiq.clock import from_text, now_text, to_text, utc_now
from tansiq.errors import ConfigurationError, NotFound, PeerError, TansiqError
from tansiq.federation.client import Credentials, TaxiiClient
from tansiq.federation.peers import Peer, Registry
from tansiq.federation.pull import pull
from tansiq.federation.push import push
from tansiq.federation.report import MappingResult, PeerReport
from tansiq.jobs import holder_id
from tansiq.storage.base import Store

log = logging.getLogger("tansiq.federation")

LEASE_SECONDS = 120.0
LEASE_ENV = "TANSIQ_PEER_LEASE_SECONDS"  # overrides LEASE_SECONDS (faster takeover, tests)
BACKOFF_BASE = 10.0  # seconds after the first failure
BACKOFF_MAX = 3600.0

ClientFactory = Callable[[Peer, Credentials], TaxiiClient]


def default_client(peer: Peer, credentials: Credentials) -> TaxiiClient:
    return TaxiiClient(peer.url, credentials, api_root=peer.api_root)


def lease_seconds() -> float:
    """How long a peer's lease outlives its last renewal: ``LEASE_SECONDS``, or the
    environment's ``TANSIQ_PEER_LEASE_SECONDS``."""
    text = os.environ.get(LEASE_ENV, "").strip()
    if not text:
        return LEASE_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigurationError(f"{LEASE_ENV}='{text}' must be a positive number of seconds")
    return value


def backoff_delay(failures: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt after ``failures`` consecutive failed syncs."""
    delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, failures - 1))
    delay *= random.uniform(0.75, 1.25)
    return max(delay, retry_after or 0.0)


class LeaseLost(TansiqError):
    """Another process took the peer over (this one stalled beyond its lease)."""


def sync_peer(
    store: Store,
    registry: Registry,
    name: str,
    *,
    client_factory: ClientFactory = default_client,
    heartbeat: Callable[[], None] = lambda: None,
) -> PeerReport:
    """Run every mapping of one peer once (pulls first, then pushes) and record status."""
    report = PeerReport(peer=name, started=now_text())
    retry_after: float | None = None
    try:
        peer = registry.get(name)
        org = store.get_org(peer.org)
        if org is None:
            raise NotFound(f"organisation '{peer.org}' of peer '{name}' no longer exists")
        credentials = registry.credentials(peer)
        with client_factory(peer, credentials) as client:
            unavailable: str | None = None  # the peer itself failed: skip what is left
            for mapping in [*peer.pulls, *peer.pushes]:
                step = pull if mapping.direction == "pull" else push
                if unavailable is not None:
                    skipped = MappingResult.of(mapping)
                    skipped.error = f"skipped: {unavailable}"
                    report.mappings.append(skipped)
                    continue
                try:
                    report.mappings.append(
                        step(store, client, registry, peer, mapping, org, heartbeat=heartbeat)
                    )
                except LeaseLost:
                    raise
                except TansiqError as exc:
                    failed = MappingResult.of(mapping)
                    failed.error = str(exc)
                    report.mappings.append(failed)
                    if isinstance(exc, PeerError):
                        if exc.retry_after:
                            retry_after = max(retry_after or 0.0, exc.retry_after)
                        if exc.transient:  # unreachable, 5xx, 429: the other mappings too
                            unavailable = "the peer failed on an earlier mapping"
                    log.warning(
                        "peer %s: %s (remote %s, local %s): %s",
                        name,
                        mapping.direction,
                        mapping.remote,
                        mapping.local,
                        exc,
                    )
    except LeaseLost as exc:
        report.error = str(exc)
        report.finished = now_text()
        return report  # the new holder records the status
    except TansiqError as exc:
        report.error = str(exc)
        log.warning("peer %s: %s", name, exc)
    report.finished = now_text()
    _record(registry, name, report, retry_after)
    return report


def _record(registry: Registry, name: str, report: PeerReport, retry_after: float | None) -> None:
    try:
        interval = registry.get(name).interval
    except NotFound:
        return  # removed meanwhile
    status = registry.status(name)
    status["last_attempt"] = report.finished
    status["last_report"] = report.as_dict()
    if report.ok:
        status["last_success"] = report.finished
        status["failures"] = 0
        status["last_error"] = None
        delay = interval
    else:
        status["failures"] = int(status.get("failures", 0)) + 1
        status["last_error"] = "; ".join(report.errors)
        status["last_error_at"] = report.finished
        delay = backoff_delay(status["failures"], retry_after)
    status["next_attempt"] = to_text(utc_now() + timedelta(seconds=delay))
    registry.save_status(name, status)


def is_due(registry: Registry, name: str) -> bool:
    nxt = registry.status(name).get("next_attempt")
    return nxt is None or from_text(nxt) <= utc_now()


class Scheduler:
    """Runs due peers, each under its lease and in its own thread; call :meth:`tick`
    as often as you like (``serve`` does every few seconds, ``tansiq sync`` in a loop)."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        client_factory: ClientFactory = default_client,
        holder: str | None = None,
        max_parallel: int = 8,
    ) -> None:
        self.store = store
        self.registry = registry
        self.client_factory = client_factory
        self.holder = holder or holder_id()
        self.lease = lease_seconds()
        self.pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="peer")
        self.running: set[str] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.on_report: Callable[[PeerReport], object] | None = None

    def tick(self, names: Iterable[str] | None = None, *, force: bool = False) -> list[str]:
        """Start a sync of every due peer (of ``names``) not already running here;
        returns the names started."""
        wanted = list(names) if names is not None else [p.name for p in self.registry.peers()]
        started = []
        for name in wanted:
            with self.lock:
                if name in self.running:
                    continue
                if not force and not is_due(self.registry, name):
                    continue
                if not self.store.try_lease(f"peer:{name}", self.holder, self.lease):
                    continue
                if not force and not is_due(self.registry, name):
                    # another process finished a sync between our check and our lease
                    self.store.release_lease(f"peer:{name}", self.holder)
                    continue
                self.running.add(name)
            self.pool.submit(self._run, name)
            started.append(name)
        return started

    def run_once(
        self, names: Iterable[str] | None = None, *, wait: float = 0.0
    ) -> list[PeerReport]:
        """Sync each named peer (every peer when None) now and wait for the reports.
        A peer another process is syncing is waited for up to ``wait`` seconds (its sync
        ends, then this one runs), else reported as busy."""
        wanted = list(names) if names is not None else [p.name for p in self.registry.peers()]
        for name in wanted:
            self.registry.get(name)  # NotFound before anything starts
        futures = {}
        reports: list[PeerReport] = []
        deadline = time.monotonic() + wait
        for name in wanted:
            while not (
                leased := self.store.try_lease(f"peer:{name}", self.holder, self.lease)
            ) and (time.monotonic() < deadline):
                time.sleep(0.25)
            if not leased:
                busy = PeerReport(peer=name, started=now_text(), finished=now_text())
                busy.error = "another process is syncing this peer right now"
                reports.append(busy)
                continue
            with self.lock:
                self.running.add(name)
            futures[name] = self.pool.submit(self._run, name)
        reports.extend(f.result() for f in futures.values())
        order = {n: i for i, n in enumerate(wanted)}
        reports.sort(key=lambda r: order.get(r.peer, 0))
        return reports

    def _run(self, name: str) -> PeerReport:
        def heartbeat() -> None:
            if self.stopping.is_set():
                raise LeaseLost(f"stopped while syncing peer '{name}'; it resumes from its cursor")
            if not self.store.try_lease(f"peer:{name}", self.holder, self.lease):
                raise LeaseLost(f"lost the lease on peer '{name}' to another process")

        try:
            report = sync_peer(
                self.store,
                self.registry,
                name,
                client_factory=self.client_factory,
                heartbeat=heartbeat,
            )
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the scheduler
            log.exception("peer %s: sync failed", name)
            report = PeerReport(peer=name, started=now_text(), finished=now_text())
            report.error = f"internal error: {exc}"
        try:
            if self.on_report is not None:
                self.on_report(report)
            return report
        finally:
            self.store.release_lease(f"peer:{name}", self.holder)
            with self.lock:
                self.running.discard(name)

    def close(self, wait: bool = True) -> None:
        """Stop: running syncs end after their current page (cursors stay consistent)."""
        self.stopping.set()
        self.pool.shutdown(wait=wait, cancel_futures=True)
