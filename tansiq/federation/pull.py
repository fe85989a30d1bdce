"""Pull one mapping: every version the peer added since the cursor, page by page.

Each page is validated (invalid objects are rejected one by one and recorded, the rest
kept), written in one transaction with its provenance (peer name; date_added is ours)
and only then does the cursor move to the page's ``X-TAXII-Date-Added-Last``. A crash
between the two re-fetches that page at the next sync; writes are idempotent per
(id, version), so nothing is lost and nothing duplicated. A resumed pull asks from one
microsecond before the cursor, so that versions sharing the cursor's date_added on a
server whose timestamps are not unique (medallion stores a whole envelope under one
date_added) are not skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

import orjson

from tansiq.clock import now_text
from tansiq.federation.client import TaxiiClient
from tansiq.federation.peers import Mapping, Peer, Registry
from tansiq.federation.report import MappingResult
from tansiq.ingest.bundle import prepare
from tansiq.stix.timestamps import compare_key, format_timestamp, parse_timestamp
from tansiq.storage.base import AuditEvent, Organisation, Principal, Store


def _before(text: str) -> str:
    try:
        return format_timestamp(parse_timestamp(text) - timedelta(microseconds=1))
    except ValueError:
        return text


def _digest(raw: object) -> str:
    """Fingerprint of an object as the peer sent it."""
    try:
        data = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        data = repr(raw).encode()
    return hashlib.sha256(data).hexdigest()[:32]


def _later(candidate: str | None, current: str | None) -> bool:
    """Whether the peer's timestamp ``candidate`` is after ``current`` (as instants)."""
    if candidate is None:
        return False
    if current is None:
        return True
    try:
        return compare_key(candidate) > compare_key(current)
    except ValueError:
        return candidate > current


def pull(
    store: Store,
    client: TaxiiClient,
    registry: Registry,
    peer: Peer,
    mapping: Mapping,
    org: Organisation,
    *,
    heartbeat: Callable[[], None] = lambda: None,
) -> MappingResult:
    result = MappingResult.of(mapping)
    remote = client.resolve_collection(mapping.remote)
    cursor = registry.cursor(peer, mapping)
    start = cursor.get("added_after")
    writer = Principal(user=None, org=org)
    for page in client.iter_pages(remote.id, added_after=_before(start) if start else None):
        valid, bad = prepare(page.objects)
        audit = AuditEvent(
            action="federation.pull",
            actor=f"peer:{peer.name}",
            org_id=org.id,
            collection_id=mapping.local,
            detail={
                "peer": peer.name,
                "remote_collection": remote.id,
                "objects": len(page.objects),
                "invalid": [[b.id, b.version] for b in bad],
            },
        )
        written = store.write_versions(
            mapping.local, valid, writer=writer, peer=peer.name, access=None, audit=audit
        )
        result.count(written)
        result.objects += len(page.objects)
        result.pages += 1
        if bad:
            # an invalid object already rejected (the page at the cursor's instant is asked
            # again on purpose) is not reported twice: like a valid one, it is "unchanged"
            seen = {e.get("digest") for e in registry.rejected(peer, mapping)["recent"]}
            at = now_text()
            fresh = []
            for b in bad:
                digest = _digest(page.objects[b.index])
                if digest in seen:
                    result.unchanged += 1
                    continue
                seen.add(digest)
                result.count([b])
                fresh.append(
                    {
                        "at": at,
                        "id": b.id,
                        "version": b.version,
                        "reason": b.message,
                        "digest": digest,
                    }
                )
            if fresh:
                registry.add_rejected(peer, mapping, fresh)
        if _later(page.date_added_last, start):
            start = page.date_added_last
        cursor.update(
            added_after=start,
            remote_id=remote.id,
            # new versions stored (what a resumed page fetches again is not counted)
            objects=int(cursor.get("objects", 0)) + sum(r.outcome == "added" for r in written),
        )
        registry.save_cursor(peer, mapping, cursor)
        heartbeat()
    result.complete = True
    cursor["caught_up"] = now_text()
    registry.save_cursor(peer, mapping, cursor)
    return result
