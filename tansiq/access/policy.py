"""The need-to-know policy: who sees which version, and what a writer may claim.

Reading: :func:`access_for` turns (caller, collection) into an
:class:`~tansiq.storage.base.Access` value; the store enforces it inside its SQL
(see ``tansiq/storage/visibility.py``).

Writing: :class:`WriterContext` carries what the ingest layer needs to apply the creator
rules (STIX 2.1 section 3.6) and to resolve the recipients of TLP:RED objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from tansiq.errors import InvalidInput, StixError
from tansiq.stix.markings import TLP2_BY_NAME, tlp_of
from tansiq.storage.base import (
    AMBER,
    CLEAR,
    TLP_LEVELS,
    Access,
    Collection,
    Organisation,
    Principal,
    Store,
    User,
)

DEFAULT_MARKING_SETTING = "default_marking"
DEFAULT_MARKING = "TLP:AMBER"
#: Custom property naming the users (of this instance) who may read a TLP:RED object.
RECIPIENTS_PROPERTY = "x_tansiq_recipients"


def default_tlp(store: Store) -> int:
    name = store.get_setting(DEFAULT_MARKING_SETTING) or DEFAULT_MARKING
    return TLP_LEVELS.index(name) if name in TLP_LEVELS else AMBER


def set_default_marking(store: Store, name: str) -> str:
    wanted = name.strip().upper()
    if not wanted.startswith("TLP:"):
        wanted = "TLP:" + wanted
    if wanted not in TLP_LEVELS:
        raise InvalidInput(f"unknown marking '{name}'; choose one of {', '.join(TLP_LEVELS)}")
    store.set_setting(DEFAULT_MARKING_SETTING, wanted)
    return wanted


def access_for(principal: Principal, collection: Collection, default: int) -> Access:
    """What ``principal`` may see of ``collection`` (given that it may read it at all)."""
    user = principal.user
    if user is None:
        return Access(user_id=None, org_id=None, member=False, sync=False, default_tlp=default)
    member = user.role == "admin" or user.org_id in collection.read_orgs
    return Access(
        user_id=user.id,
        org_id=user.org_id,
        member=member,
        sync=user.role == "sync",
        default_tlp=default,
    )


def tlp_level(obj: dict[str, Any]) -> int | None:
    """Most restrictive TLP level of an object's markings (object and granular)."""
    refs: list[str] = list(obj.get("object_marking_refs") or ())
    for granular in obj.get("granular_markings") or ():
        ref = granular.get("marking_ref") if isinstance(granular, dict) else None
        if isinstance(ref, str):
            refs.append(ref)
    name = tlp_of(refs)
    if name is None:
        if obj.get("type") == "marking-definition" and obj.get("id") in _TLP_IDS:
            return CLEAR  # the TLP definitions themselves are public knowledge
        return None
    return TLP_LEVELS.index(name)


_TLP_IDS = frozenset(TLP2_BY_NAME.values())


@dataclass(frozen=True)
class WriterContext:
    """What the ingest layer knows about the writer, for the creator and RED rules."""

    user_id: int | None
    user_name: str
    org_identity: str | None  # the writer organisation's STIX identity id
    org_name: str | None
    sync: bool
    local_identities: dict[str, str] = field(default_factory=dict)  # identity id -> org name
    users: dict[str, int] = field(default_factory=dict)  # user name -> id (RED recipients)

    def apply(self, obj: dict[str, Any]) -> tuple[dict[str, Any], tuple[int, ...]]:
        """Apply the creator rules; returns the (possibly completed) object and the RED
        recipients. Raises StixError naming the object, the property and the reason."""
        oid = obj.get("id")
        if not self.sync and "created" in obj and obj.get("type") != "marking-definition":
            claimed = obj.get("created_by_ref")
            if claimed is None:
                if self.org_identity is not None:
                    obj = dict(obj)
                    obj["created_by_ref"] = self.org_identity
            elif claimed in self.local_identities and claimed != self.org_identity:
                raise StixError(
                    oid,
                    "created_by_ref",
                    f"names organisation '{self.local_identities[claimed]}', but "
                    f"'{self.user_name}' writes for '{self.org_name}'; a writer may not pose "
                    "as another organisation of this instance",
                )
        recipients: tuple[int, ...] = ()
        named = obj.get(RECIPIENTS_PROPERTY)
        if named is not None:
            if not isinstance(named, list) or not all(isinstance(n, str) for n in named):
                raise StixError(oid, RECIPIENTS_PROPERTY, "must be a list of user names")
            unknown = [n for n in named if n not in self.users]
            if unknown:
                raise StixError(
                    oid, RECIPIENTS_PROPERTY, f"unknown user(s): {', '.join(sorted(unknown))}"
                )
            recipients = tuple(self.users[n] for n in named)
        # the writer always reads its own versions (the store checks writer_user_id)
        return obj, recipients


class _Directory(Protocol):
    def list_orgs(self) -> list[Organisation]: ...
    def list_users(self) -> list[User]: ...


def writer_context(store: Store | _Directory, principal: Principal) -> WriterContext:
    user = principal.user
    org = principal.org
    return WriterContext(
        user_id=user.id if user else None,
        user_name=user.name if user else "anonymous",
        org_identity=org.identity_id if org else None,
        org_name=org.name if org else None,
        sync=bool(user and user.role == "sync"),
        local_identities={o.identity_id: o.name for o in store.list_orgs()},
        users={u.name: u.id for u in store.list_users()},
    )


__all__ = [
    "RECIPIENTS_PROPERTY",
    "WriterContext",
    "access_for",
    "default_tlp",
    "set_default_marking",
    "tlp_level",
    "writer_context",
]
