"""Push one mapping: the versions added locally since the cursor that the peer may have.

The outbound policy (``outbound.py``) is applied inside the store's query, so a page
never holds a version the peer may not receive; versions that came from this peer are
then left out. Pages follow the store's change feed (keyset on (date_added, seq)), which
on PostgreSQL only shows what is committed in order, so a version committed late is
never behind the cursor. The peer's status is followed to the end; versions it refused
(or left pending) are kept and sent again at the next sync, then reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from tansiq.clock import now_text
from tansiq.errors import NotFound, PeerError
from tansiq.federation.client import PostOutcome, TaxiiClient
from tansiq.federation.outbound import came_from, outbound_access
from tansiq.federation.peers import Mapping, Peer, Registry
from tansiq.federation.report import MappingResult
from tansiq.stix.timestamps import compare_key
from tansiq.storage.audit_chain import MAX_IDS_PER_ENTRY
from tansiq.storage.base import (
    Access,
    AuditEvent,
    Organisation,
    Query,
    Store,
    StoredVersion,
    VersionFilter,
)

ALL_VERSIONS = VersionFilter(first=False, last=False, all=True)
SPEC_VERSIONS = ("2.0", "2.1")
PAGE = 1000
#: A version the peer refused this many times is no longer sent (it stays reported;
#: ``tansiq peer reset`` sends everything again). Some servers (medallion) refuse a
#: version they already hold, which would otherwise be retried for ever.
MAX_ATTEMPTS = 10


def push(
    store: Store,
    client: TaxiiClient,
    registry: Registry,
    peer: Peer,
    mapping: Mapping,
    org: Organisation,
    *,
    page_size: int = PAGE,
    heartbeat: Callable[[], None] = lambda: None,
) -> MappingResult:
    result = MappingResult.of(mapping)
    collection = store.get_collection(mapping.local)
    if collection is None:
        raise NotFound(f"local collection {mapping.local} no longer exists")
    access = outbound_access(store, org, collection)
    if access is None:
        raise PeerError(
            f"organisation '{org.name}' (peer '{peer.name}') is not granted read on collection "
            f"'{collection.title}'; grant it or remove the mapping",
            transient=False,
        )
    remote = client.resolve_collection(mapping.remote)

    # versions the peer refused earlier
    failed = registry.failures(peer, mapping)
    retry = [f for f in failed if int(f.get("attempts", 1)) < MAX_ATTEMPTS]
    if retry:
        given_up = [f for f in failed if int(f.get("attempts", 1)) >= MAX_ATTEMPTS]
        rows = _refetch(store, collection.id, access, retry)
        still = {(f["id"], _key(f.get("version"))): f for f in retry}
        refused: dict[tuple[str, str | None], str] = {}
        if rows:
            outcome = client.add_objects(remote.id, [orjson.loads(r.json) for r in rows])
            refused = _refused(outcome)
            store.append_audit([_sent(peer, org, collection.id, remote.id, rows, len(refused))])
        result.retried = len(rows)
        sent = {(r.id, _key(r.version)) for r in rows}
        sent_ids = {r.id for r in rows}
        kept: list[dict[str, Any]] = []
        for key, entry in still.items():
            if key not in sent and key[0] not in sent_ids:
                continue  # no longer readable by the peer (grant or marking changed)
            if key in refused or (key[0], None) in refused:
                entry = dict(entry)
                entry["attempts"] = int(entry.get("attempts", 1)) + 1
                entry["message"] = refused.get(key) or refused.get((key[0], None))
                entry["last"] = now_text()
                kept.append(entry)
        failed = given_up + kept
        registry.save_failures(peer, mapping, failed)

    cursor = registry.cursor(peer, mapping)
    position = tuple(cursor["after"]) if cursor.get("after") else None
    while True:
        page = store.query(
            Query(
                collection_id=collection.id,
                after=position,
                limit=page_size,
                versions=ALL_VERSIONS,
                spec_versions=SPEC_VERSIONS,
                access=access,
            )
        )
        rows = [r for r in page.rows if not came_from(r, peer.name, org)]
        if rows:
            outcome = client.add_objects(remote.id, [orjson.loads(r.json) for r in rows])
            result.objects += len(rows)
            result.added += len(outcome.successes)
            refused = _refused(outcome)
            store.append_audit([_sent(peer, org, collection.id, remote.id, rows, len(refused))])
            if refused:
                at = now_text()
                known = {(f["id"], _key(f.get("version"))) for f in failed}
                for r in rows:
                    if (r.id, _key(r.version)) in known:
                        continue
                    message = refused.get((r.id, _key(r.version))) or refused.get((r.id, None))
                    if message is not None:
                        failed.append(
                            {
                                "id": r.id,
                                "version": r.version,
                                "message": message,
                                "attempts": 1,
                                "first": at,
                                "last": at,
                            }
                        )
                registry.save_failures(peer, mapping, failed)
        result.pages += 1
        if page.rows:
            last = page.rows[-1]
            position = (last.date_added, last.seq)
            cursor.update(
                after=list(position),
                objects=int(cursor.get("objects", 0)) + len(rows),
                remote_id=remote.id,
            )
            registry.save_cursor(peer, mapping, cursor)
        heartbeat()
        if not page.more:
            break
    result.failed = len(failed)
    result.complete = True
    cursor["caught_up"] = now_text()
    registry.save_cursor(peer, mapping, cursor)
    return result


def _sent(
    peer: Peer, org: Organisation, local: str, remote: str, rows: list[StoredVersion], refused: int
) -> AuditEvent:
    """What left the instance: one audit entry per page sent."""
    return AuditEvent(
        action="federation.push",
        actor=f"peer:{peer.name}",
        org_id=org.id,
        collection_id=local,
        detail={
            "peer": peer.name,
            "remote_collection": remote,
            "sent": len(rows),
            "refused": refused,
            "first_added": rows[0].date_added,
            "last_added": rows[-1].date_added,
            "objects": [[r.id, r.version] for r in rows[:MAX_IDS_PER_ENTRY]],
        },
        at=now_text(),
    )


def _refused(outcome: PostOutcome) -> dict[tuple[str, str | None], str]:
    """(id, version) -> message of each version the peer refused or left pending."""
    out: dict[tuple[str, str | None], str] = {}
    for entry in outcome.failures:
        out[(str(entry.get("id")), _key(entry.get("version")))] = str(
            entry.get("message") or "refused by the peer"
        )
    for entry in outcome.pendings:
        out[(str(entry.get("id")), _key(entry.get("version")))] = "still pending at the peer"
    return out


def _key(version: Any) -> str | None:
    if not isinstance(version, str) or not version:  # no version named: match by id
        return None
    try:
        return compare_key(version)
    except ValueError:
        return version


def _refetch(
    store: Store, collection_id: str, access: Access, failed: Sequence[dict[str, Any]]
) -> list[StoredVersion]:
    rows: list[StoredVersion] = []
    by_id: dict[str, list[str]] = {}
    for f in failed:
        by_id.setdefault(f["id"], []).append(f.get("version") or "")
    for oid, versions in by_id.items():
        exact = tuple(v for v in versions if v)
        page = store.query(
            Query(
                collection_id=collection_id,
                ids=(oid,),
                versions=VersionFilter(last=False, exact=exact) if exact else ALL_VERSIONS,
                spec_versions=SPEC_VERSIONS,
                access=access,
            )
        )
        rows.extend(page.rows)
    return rows
