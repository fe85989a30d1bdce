"""Background work that runs once across every process and host sharing a database.

A job runs when its interval has passed since its last recorded run *and* this process
holds the job's lease. The lease outlives a process killed mid-job by at most ``lease``
seconds; then another process takes it over and runs the job again (jobs are idempotent).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from tansiq.clock import from_text, now_text, to_text, utc_now
from tansiq.storage.base import Store

log = logging.getLogger("tansiq.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    interval: float  # seconds between two runs
    run: Callable[[Store], object]
    lease: float = 300.0  # seconds another process waits before taking over a dead run


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobRunner:
    def __init__(self, store: Store, jobs: list[Job], holder: str | None = None) -> None:
        self.store = store
        self.jobs = jobs
        self.holder = holder or holder_id()

    def _due(self, job: Job) -> bool:
        last = self.store.get_setting(f"job:{job.name}:last_run")
        if last is None:
            return True
        return utc_now() - from_text(last) >= timedelta(seconds=job.interval)

    def run_pending(self) -> list[str]:
        """Run every due job this process can lease; returns the names of those it ran."""
        ran = []
        for job in self.jobs:
            if not self._due(job):
                continue
            if not self.store.try_lease(f"job:{job.name}", self.holder, job.lease):
                continue
            try:
                if not self._due(job):  # another process finished it meanwhile
                    continue
                job.run(self.store)
                self.store.set_setting(f"job:{job.name}:last_run", to_text(utc_now()))
                ran.append(job.name)
            except Exception:  # noqa: BLE001 - logged; retried at the next interval
                log.exception("background job %s failed", job.name)
            finally:
                self.store.release_lease(f"job:{job.name}", self.holder)
        return ran


def expire_statuses(store: Store) -> int:
    return store.expire_statuses(now_text())


DEFAULT_JOBS = [Job("status-expiry", interval=3600.0, run=expire_statuses)]
