"""The need-to-know rule as SQL, shared by every backend.

``visible_sql(access, alias)`` is a boolean SQL expression over one row of ``objects``
(and the ``recipients`` table) that is true when the caller described by ``access`` may
see that version. Only integers from the Access value are interpolated, never caller
text. The rule (DESIGN.md "Access semantics"):

* level = the version's TLP level, or the instance default when unmarked;
* CLEAR: every reader of the collection, anonymous ones included;
* GREEN: every authenticated reader of the collection;
* AMBER, AMBER+STRICT: readers whose organisation is granted on the collection, or is the
  creating organisation; a sync account never gets one that came from a peer;
* RED: the named recipients and the writer; never a sync account.
"""

from __future__ import annotations

from tansiq.storage.base import AMBER, AMBER_STRICT, RED, Access


def level_sql(access: Access, t: str) -> str:
    return f"COALESCE({t}.tlp, {int(access.default_tlp)})"


def visible_sql(access: Access, t: str = "objects") -> str:
    level = level_sql(access, t)
    parts = [f"{level} <= {int(access.public_level)}"]
    if access.user_id is not None:
        if access.member:
            amber_who = "1 = 1"
        elif access.org_id is not None:
            amber_who = f"{t}.creator_org_id = {int(access.org_id)}"
        else:
            amber_who = "1 = 0"
        hop = f" AND {t}.peer IS NULL" if access.sync else ""
        parts.append(f"({level} IN ({AMBER}, {AMBER_STRICT}) AND {amber_who}{hop})")
        if not access.sync:
            uid = int(access.user_id)
            parts.append(
                f"({level} = {RED} AND ({t}.writer_user_id = {uid} OR EXISTS (SELECT 1 FROM "
                f"recipients r WHERE r.seq = {t}.seq AND r.user_id = {uid})))"
            )
    return "(" + " OR ".join(parts) + ")"


def known_to_writer_sql(access: Access, t: str = "objects") -> str:
    """Versions a writer is considered to know about: the ones it may read, plus the ones
    it wrote itself (a write-only drop box still recognises its own re-posts). Never its
    colleagues' versions it may not read: a write must not reveal them. A sync account
    also knows the versions received here from its own partner (a peer acting for its
    organisation, or one of its sync accounts): re-sent by that partner, they are the same
    versions, not new hidden ones (else each would be stored twice)."""
    own = f" OR {t}.writer_user_id = {int(access.user_id)}" if access.user_id is not None else ""
    if access.sync and access.org_id is not None:
        own += f" OR ({t}.peer IS NOT NULL AND {t}.writer_org_id = {int(access.org_id)})"
    return f"({visible_sql(access, t)}{own})"
