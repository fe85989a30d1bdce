"""What ``tansiq peer status`` shows: per peer and per mapping, how far behind it is.

Push lag is exact (the local versions the peer may receive that are past the push
cursor, counted up to ``LAG_CAP``, and the age of the oldest). Pull lag is the time since
the last pull that reached the end of what the peer had; how many versions the peer holds
beyond the cursor is only known by asking it: with a client (``peer status --remote``)
the pull mappings page through them, counting up to ``LAG_CAP``.
"""

from __future__ import annotations

from typing import Any

from tansiq.clock import now_text, utc_now
from tansiq.errors import TansiqError
from tansiq.federation.client import TaxiiClient
from tansiq.federation.outbound import came_from, outbound_access
from tansiq.federation.peers import Mapping, Peer, Registry
from tansiq.federation.push import ALL_VERSIONS, SPEC_VERSIONS
from tansiq.stix.timestamps import parse_timestamp
from tansiq.storage.base import Organisation, Query, Store

LAG_CAP = 10_000


def _age(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return round((utc_now() - parse_timestamp(text)).total_seconds(), 3)
    except ValueError:
        return None


def remote_lag(client: TaxiiClient, cursor: dict[str, Any], mapping: Mapping) -> int | str:
    """Versions the peer added after the pull cursor (``"10000+"`` past the cap)."""
    remote = client.resolve_collection(mapping.remote)
    count = 0
    for page in client.iter_pages(remote.id, added_after=cursor.get("added_after")):
        count += len(page.objects)
        if count >= LAG_CAP:
            return f"{LAG_CAP}+"
    return count


def mapping_status(
    store: Store,
    registry: Registry,
    peer: Peer,
    mapping: Mapping,
    org: Organisation | None,
    client: TaxiiClient | None = None,
) -> dict[str, Any]:
    cursor = registry.cursor(peer, mapping)
    collection = store.get_collection(mapping.local)
    out: dict[str, Any] = {
        **mapping.as_dict(),
        "local_title": collection.title if collection else None,
        "objects": int(cursor.get("objects", 0)),
        "caught_up": cursor.get("caught_up"),
    }
    if mapping.direction == "pull":
        out["cursor"] = cursor.get("added_after")
        out["lag_seconds"] = _age(cursor.get("caught_up"))
        out["lag_objects"] = None  # unknown unless the peer is asked
        if client is not None:
            try:
                out["lag_objects"] = remote_lag(client, cursor, mapping)
            except TansiqError as exc:
                out["problem"] = f"cannot ask the peer: {exc}"
        rejected = registry.rejected(peer, mapping)
        out["rejected"] = int(rejected.get("count", 0))
        out["recent_rejected"] = rejected.get("recent", [])[-5:]
        return out
    position = cursor.get("after")
    out["cursor"] = position
    failed = registry.failures(peer, mapping)
    out["failed"] = len(failed)
    out["recent_failed"] = failed[-5:]
    access = outbound_access(store, org, collection) if org and collection else None
    if access is None or collection is None or org is None:
        out["lag_objects"] = None
        out["lag_seconds"] = None
        out["problem"] = "the peer's organisation may not read this collection"
        return out
    page = store.query(
        Query(
            collection_id=collection.id,
            after=(position[0], position[1]) if position else None,
            limit=LAG_CAP,
            versions=ALL_VERSIONS,
            spec_versions=SPEC_VERSIONS,
            access=access,
        )
    )
    pending = [r for r in page.rows if not came_from(r, peer.name, org)]
    out["lag_objects"] = len(pending) if not page.more else f"{LAG_CAP}+"
    out["lag_seconds"] = _age(pending[0].date_added) if pending else 0.0
    return out


def peer_status(
    store: Store, registry: Registry, peer: Peer, client: TaxiiClient | None = None
) -> dict[str, Any]:
    """The status of ``peer``; with ``client`` (connected to it), the pull lag in
    versions too."""
    status = registry.status(peer.name)
    org = store.get_org(peer.org)
    return {
        **peer.public(),
        "now": now_text(),
        "last_attempt": status.get("last_attempt"),
        "last_success": status.get("last_success"),
        "last_error": status.get("last_error"),
        "last_error_at": status.get("last_error_at"),
        "consecutive_failures": int(status.get("failures", 0)),
        "next_attempt": status.get("next_attempt"),
        "mappings": [mapping_status(store, registry, peer, m, org, client) for m in peer.mappings],
    }
