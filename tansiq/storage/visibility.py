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
* RED: the named recipients (the writer is always one); never a sync account.
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
            parts.append(
                f"({level} = {RED} AND EXISTS (SELECT 1 FROM recipients r "
                f"WHERE r.seq = {t}.seq AND r.user_id = {int(access.user_id)}))"
            )
    return "(" + " OR ".join(parts) + ")"


def known_to_writer_sql(access: Access, t: str = "objects") -> str:
    """Versions a writer is considered to know about: the ones it may read, plus the ones
    its own organisation wrote or created (a write-only drop box still recognises its own
    re-posts)."""
    own = ""
    if access.org_id is not None:
        org = int(access.org_id)
        own = f" OR {t}.writer_org_id = {org} OR {t}.creator_org_id = {org}"
    return f"({visible_sql(access, t)}{own})"
