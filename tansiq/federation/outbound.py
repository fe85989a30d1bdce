"""What a peer may receive: one policy for what we push and what it may be sent.

A peer acts here for one local organisation. It may receive the versions of collections
that organisation is granted read on, as a sync account sees them
(``storage/visibility.py``): TLP:CLEAR and TLP:GREEN; TLP:AMBER and AMBER+STRICT only
when they did not come from a peer (one hop); never TLP:RED. Versions that came from
this very peer are not sent back to it.
"""

from __future__ import annotations

from tansiq.access.policy import default_tlp
from tansiq.storage.base import Access, Collection, Organisation, Store, StoredVersion

#: Stands for the peer in the visibility rule: matches no user (no TLP:RED, no writer).
PEER_USER_ID = -1


def outbound_access(store: Store, org: Organisation, collection: Collection) -> Access | None:
    """The peer's view of ``collection``, or None when its organisation may not read it."""
    if org.id not in collection.read_orgs:
        return None
    return Access(
        user_id=PEER_USER_ID,
        org_id=org.id,
        member=True,
        sync=True,
        default_tlp=default_tlp(store),
    )


def came_from(row: StoredVersion, peer_name: str, org: Organisation) -> bool:
    """True when this version reached us from that peer: pulled from it, or pushed to us
    by a sync account of its organisation."""
    if row.peer is None:
        return False
    if row.peer == peer_name:
        return True
    return row.peer.startswith("sync:") and row.writer_org_id == org.id
