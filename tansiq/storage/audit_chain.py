"""Hash chaining of audit entries (shared by every backend and by ``audit verify``).

Each entry's hash covers its own id and fields and the previous entry's hash, so that
altering, removing, inserting or reordering entries breaks the chain at the first bad one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import orjson

from tansiq.storage.base import AuditEvent, WriteResult

GENESIS = "0" * 64
MAX_IDS_PER_ENTRY = 100_000


def chain_hash(
    prev_hash: str,
    entry_id: int,
    at: str,
    actor: str,
    user_id: int | None,
    org_id: int | None,
    action: str,
    collection_id: str | None,
    detail: str,
) -> str:
    payload = orjson.dumps(
        [prev_hash, entry_id, at, actor, user_id, org_id, action, collection_id, detail]
    )
    return hashlib.sha256(payload).hexdigest()


def detail_text(detail: dict[str, Any]) -> str:
    return orjson.dumps(detail, option=orjson.OPT_SORT_KEYS).decode()


def write_audit_event(
    event: AuditEvent, collection_id: str, results: Sequence[WriteResult], now: str
) -> AuditEvent:
    """The audit entry of one write: who, where, and each id/version with its outcome."""
    outcomes: dict[str, list[list[str | None]]] = {}
    for r in results[:MAX_IDS_PER_ENTRY]:
        outcomes.setdefault(r.outcome, []).append([r.id, r.version])
    detail = dict(event.detail)
    if "invalid" in detail:
        outcomes["invalid"] = detail.pop("invalid")
    detail["counts"] = {k: len(v) for k, v in outcomes.items()}
    detail["objects"] = outcomes
    if len(results) > MAX_IDS_PER_ENTRY:
        detail["truncated"] = len(results) - MAX_IDS_PER_ENTRY
    return replace(event, collection_id=collection_id, detail=detail, at=event.at or now)


def chain_rows(
    head: str | None, top_id: int | None, events: Sequence[AuditEvent], now: str
) -> tuple[list[tuple[Any, ...]], str]:
    """Rows (id, at, actor, user_id, org_id, action, collection_id, detail, prev_hash,
    hash) chaining ``events`` onto the *recorded* head ("count:hash" setting, not the
    table's last row, so rows removed or appended behind Tansiq's back stay visible to
    ``audit verify``), and the new head value to record."""
    if head is None:
        last_id, prev = 0, GENESIS
    else:
        text, _, prev = head.partition(":")
        last_id = int(text)
    last_id = max(last_id, int(top_id or 0))
    rows = []
    for ev in events:
        last_id += 1
        detail = detail_text(ev.detail)
        at = ev.at or now
        h = chain_hash(
            prev, last_id, at, ev.actor, ev.user_id, ev.org_id, ev.action, ev.collection_id, detail
        )
        rows.append(
            (
                last_id,
                at,
                ev.actor,
                ev.user_id,
                ev.org_id,
                ev.action,
                ev.collection_id,
                detail,
                prev,
                h,
            )
        )
        prev = h
    return rows, f"{last_id}:{prev}"


AUDIT_COLUMNS = "id, at, actor, user_id, org_id, action, collection_id, detail, prev_hash, hash"


def parse_head(value: str | None) -> tuple[int, str] | None:
    """The recorded head ("count:hash" setting) as (count, hash)."""
    if value is None:
        return None
    count, _, h = str(value).partition(":")
    return int(count), h


def audit_select(
    mark: str,
    *,
    user_id: int | None = None,
    org_id: int | None = None,
    collection_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> tuple[str, list[Any]]:
    """The keyset-paged query of audit entries matching the filters, with ``mark`` as the
    backend's placeholder, and its fixed arguments. Parameters run: the position (last id
    read), the fixed arguments, the batch size."""
    where = [f"id > {mark}"]
    fixed: list[Any] = []
    for condition, value in (
        ("user_id =", user_id),
        ("org_id =", org_id),
        ("collection_id =", collection_id),
        ("at >=", since),
        ("at <=", until),
    ):
        if value is not None:
            where.append(f"{condition} {mark}")
            fixed.append(value)
    sql = f"SELECT {AUDIT_COLUMNS} FROM audit WHERE {' AND '.join(where)} ORDER BY id LIMIT {mark}"
    return sql, fixed


def deletion_event(
    audit: AuditEvent, collection_id: str, object_id: str, deleted: int
) -> AuditEvent:
    """The audit entry of a DELETE of ``deleted`` versions of one object."""
    return replace(
        audit,
        collection_id=collection_id,
        detail={**audit.detail, "object": object_id, "deleted": deleted},
    )
