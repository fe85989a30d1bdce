"""The audit log: recording (buffered for reads), verification and listing.

Writes are recorded by the store in the same transaction as the write. Reads are many
and small, so :class:`AuditLog` buffers them and appends them in batches (every
``flush_every`` seconds or ``max_buffer`` entries, and on shutdown): no disk sync per read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from tansiq.clock import now_text
from tansiq.storage.audit_chain import GENESIS, chain_hash
from tansiq.storage.base import AuditEvent, Principal, Store


def event(
    principal: Principal,
    action: str,
    collection_id: str | None = None,
    **detail: Any,
) -> AuditEvent:
    user = principal.user
    return AuditEvent(
        action=action,
        actor=user.name if user else "anonymous",
        user_id=user.id if user else None,
        org_id=user.org_id if user else None,
        collection_id=collection_id,
        detail=detail,
        at=now_text(),
    )


def operator_event(action: str, **detail: Any) -> AuditEvent:
    return AuditEvent(action=action, actor="operator", detail=detail, at=now_text())


class AuditLog:
    """Buffers read events and appends them to the store in batches."""

    def __init__(self, store: Store, flush_every: float = 1.0, max_buffer: int = 500) -> None:
        self.store = store
        self.flush_every = flush_every
        self.max_buffer = max_buffer
        self._buffer: list[AuditEvent] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tansiq-audit", daemon=True)
            self._thread.start()

    def record(self, ev: AuditEvent) -> None:
        with self._lock:
            self._buffer.append(ev)
            full = len(self._buffer) >= self.max_buffer
        if full:
            self._wake.set()

    def flush(self) -> None:
        with self._lock:
            pending, self._buffer = self._buffer, []
        if pending:
            self.store.append_audit(pending)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_every)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - retried at the next tick; never lost silently
                import logging

                logging.getLogger("tansiq.audit").exception("audit flush failed; will retry")


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "first_bad": self.first_bad,
            "reason": self.reason,
        }


def verify(store: Store) -> VerifyResult:
    """Walk the chain; name the first entry that was altered, removed, inserted or moved."""
    prev = GENESIS
    expected_id = 1
    count = 0
    for row in store.iter_audit():
        if row.id != expected_id:
            if row.id > expected_id:
                return VerifyResult(
                    False, count, expected_id, f"entry {expected_id} is missing (removed)"
                )
            return VerifyResult(False, count, row.id, f"entry {row.id} is out of order")
        if row.prev_hash != prev:
            return VerifyResult(
                False,
                count,
                row.id,
                f"entry {row.id} does not follow entry {row.id - 1} (entries removed, inserted or reordered)",
            )
        h = chain_hash(
            row.prev_hash,
            row.id,
            row.at,
            row.actor,
            row.user_id,
            row.org_id,
            row.action,
            row.collection_id,
            row.detail,
        )
        if h != row.hash:
            return VerifyResult(False, count, row.id, f"entry {row.id} was altered (hash mismatch)")
        prev = row.hash
        expected_id += 1
        count += 1
    head = store.audit_head()
    if head is not None:
        last_id, last_hash = head
        if last_id != count or last_hash != prev:
            if count > last_id:
                return VerifyResult(
                    False,
                    count,
                    last_id + 1,
                    f"entries {last_id + 1} to {count} were added outside Tansiq (beyond the recorded head)",
                )
            if last_id > count:
                return VerifyResult(
                    False,
                    count,
                    count + 1,
                    f"entries {count + 1} to {last_id} were removed (log truncated)",
                )
            return VerifyResult(
                False, count, last_id, "the recorded head of the log does not match its entries"
            )
    elif count:
        return VerifyResult(False, count, 1, "the recorded head of the log is missing")
    return VerifyResult(True, count)
