"""The Store protocol and the value objects every backend speaks.

A stored row is one *version* of one object *in one collection*. ``(collection, id,
version)`` is immutable. ``date_added`` is assigned by the store, strictly increasing
across the whole store, so that TAXII ``added_after`` paging can never skip a row; paging
is keyset paging on ``(date_added, seq)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

import orjson

Role = Literal["reader", "analyst", "org-admin", "admin", "sync"]
ROLES: tuple[Role, ...] = ("reader", "analyst", "org-admin", "admin", "sync")
WRITE_ROLES: frozenset[str] = frozenset({"analyst", "org-admin", "admin", "sync"})


# --------------------------------------------------------------------------- principals


@dataclass(frozen=True)
class Organisation:
    id: int
    name: str
    identity_id: str  # STIX identity id (identity_class organization)
    identity: dict[str, Any]


@dataclass(frozen=True)
class User:
    id: int
    name: str
    org_id: int
    role: Role
    disabled: bool = False
    has_password: bool = False


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (with its organisation) or an anonymous caller."""

    user: User | None
    org: Organisation | None

    @property
    def anonymous(self) -> bool:
        return self.user is None

    @property
    def key(self) -> str:
        """Stable identifier used to bind paging tokens and status resources."""
        return "anon" if self.user is None else f"user:{self.user.id}"


ANONYMOUS = Principal(user=None, org=None)


@dataclass(frozen=True)
class Token:
    id: int
    user_id: int
    created: str
    expires: str | None
    last_used: str | None
    revoked: bool
    label: str | None = None


# --------------------------------------------------------------------------- TAXII structure


@dataclass(frozen=True)
class ApiRoot:
    name: str  # path segment under the server, e.g. "default"
    title: str
    description: str | None = None
    max_content_length: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class Collection:
    id: str  # UUIDv4 text
    api_root: str
    title: str
    description: str | None = None
    alias: str | None = None
    public: bool = False  # anonymous readers may read it
    media_types: tuple[str, ...] = ("application/stix+json;version=2.1",)
    read_orgs: frozenset[int] = frozenset()
    write_orgs: frozenset[int] = frozenset()


# --------------------------------------------------------------------------- objects


@dataclass(frozen=True)
class VersionFilter:
    """``match[version]``: any of first, last, all, and exact version timestamps."""

    first: bool = False
    last: bool = True
    all: bool = False
    exact: tuple[str, ...] = ()  # STIX timestamps, any precision (compared as instants)

    @classmethod
    def default(cls) -> VersionFilter:
        return cls()


#: TLP levels as stored (objects.tlp); NULL in the database means "unmarked".
TLP_LEVELS: tuple[str, ...] = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")
CLEAR, GREEN, AMBER, AMBER_STRICT, RED = range(5)


@dataclass(frozen=True)
class Access:
    """What one caller may see in one collection, as constants for the store's SQL.

    Built by :func:`tansiq.access.policy.access_for`; the store turns it into a WHERE
    clause so that paging, counts and headers never include a hidden version.
    """

    user_id: int | None  # None: anonymous
    org_id: int | None
    member: bool  # the caller's organisation is granted read on the collection (or admin)
    sync: bool  # a partner instance's machine account
    default_tlp: int  # level of unmarked versions (instance setting)

    @property
    def public_level(self) -> int:
        """Highest level every reader of the collection sees (CLEAR anonymous, GREEN users)."""
        return CLEAR if self.user_id is None else GREEN


@dataclass(frozen=True)
class Query:
    """Every TAXII filter over one collection, as one value.

    ``after`` is the decoded keyset position of a ``next`` token: (date_added, seq).
    ``spec_versions`` empty means "latest spec version of each object only".
    """

    collection_id: str
    added_after: str | None = None  # timestamp key
    limit: int | None = None
    after: tuple[str, int] | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: VersionFilter = field(default_factory=VersionFilter)
    spec_versions: tuple[str, ...] = ()
    access: Access | None = None  # None: unrestricted (operator tools, internal work)

    def filter_fingerprint(self) -> str:
        """A stable text of the filters (not the position) to bind paging tokens."""
        v = self.versions
        parts = [
            self.collection_id,
            self.added_after or "",
            ",".join(self.ids),
            ",".join(self.types),
            f"{int(v.first)}{int(v.last)}{int(v.all)}:" + ",".join(v.exact),
            ",".join(self.spec_versions),
        ]
        return "|".join(parts)


class StoredVersion(NamedTuple):
    """One stored row, with the raw JSON text as stored (never re-serialised).

    A NamedTuple rather than a dataclass: pages build hundreds of them per request.
    """

    seq: int
    collection_id: str
    id: str
    type: str
    version: str  # the object's own version text (modified/created) or the store's value
    spec_version: str
    date_added: str
    created_by: str | None
    markings: tuple[str, ...]
    json: bytes
    writer_user_id: int | None = None
    writer_org_id: int | None = None
    peer: str | None = None

    def manifest_entry(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "date_added": self.date_added,
            "version": self.version,
            "media_type": f"application/stix+json;version={self.spec_version}",
        }


@dataclass(frozen=True)
class Page:
    rows: list[StoredVersion]
    more: bool
    next_position: tuple[str, int] | None  # keyset of the last row returned when more

    @property
    def first_added(self) -> str | None:
        return self.rows[0].date_added if self.rows else None

    @property
    def last_added(self) -> str | None:
        return self.rows[-1].date_added if self.rows else None


Outcome = Literal["added", "unchanged", "conflict", "invalid", "denied"]


@dataclass(frozen=True)
class AuditEvent:
    """One entry of the audit log before it is chained."""

    action: str  # e.g. "objects.write", "objects.read", "manifest.read", "user.add"
    actor: str  # user name, "anonymous" or "operator"
    user_id: int | None = None
    org_id: int | None = None
    collection_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    at: str = ""


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: str
    actor: str
    user_id: int | None
    org_id: int | None
    action: str
    collection_id: str | None
    detail: str  # JSON text as chained
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class WriteResult:
    """Outcome of writing one object; ``index`` is its position in the request."""

    index: int
    id: str | None
    version: str | None
    outcome: Outcome
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("added", "unchanged")


class NewVersion(NamedTuple):
    """One validated object ready to be written (produced by the ingest layer).

    ``obj`` may be dropped (None) once ``hash`` is computed, e.g. when versions cross a
    process boundary during a parallel import (a NamedTuple pickles cheaply).
    """

    obj: dict[str, Any] | None
    json: bytes  # stored bytes (orjson dumps of obj)
    id: str
    type: str
    version: str | None  # None for objects without created/modified (SCOs)
    spec_version: str
    created_by: str | None
    markings: tuple[str, ...]
    index: int = 0  # type: ignore[assignment]  # position in the request (shadows tuple.index)
    hash: bytes = b""  # storage.identity.body_hash(obj); computed by the store when empty
    tlp: int | None = None  # most restrictive TLP level of its markings; None: unmarked
    recipients: tuple[int, ...] = ()  # user ids that may read a TLP:RED version


@dataclass(frozen=True)
class StatusRecord:
    id: str
    api_root: str
    owner: str  # Principal.key
    status: Literal["pending", "complete"]
    request_timestamp: str
    total_count: int
    success_count: int
    failure_count: int
    pending_count: int
    successes: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    pendings: list[dict[str, Any]]
    expires: str

    def to_stored(self) -> bytes:
        """The JSON body a store keeps (the TAXII resource and who may read it)."""
        return orjson.dumps(
            {
                "record": self.to_taxii(),
                "owner": self.owner,
                "api_root": self.api_root,
                "expires": self.expires,
            }
        )

    @classmethod
    def from_stored(cls, body: bytes | str) -> StatusRecord:
        data = orjson.loads(body)
        rec = data["record"]
        return cls(
            id=rec["id"],
            api_root=data["api_root"],
            owner=data["owner"],
            status=rec["status"],
            request_timestamp=rec["request_timestamp"],
            total_count=rec["total_count"],
            success_count=rec["success_count"],
            failure_count=rec["failure_count"],
            pending_count=rec["pending_count"],
            successes=rec.get("successes", []),
            failures=rec.get("failures", []),
            pendings=rec.get("pendings", []),
            expires=data["expires"],
        )

    def to_taxii(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "request_timestamp": self.request_timestamp,
            "total_count": self.total_count,
            "success_count": self.success_count,
            "failure_count": self.failure_count,
            "pending_count": self.pending_count,
        }
        if self.successes:
            body["successes"] = self.successes
        if self.failures:
            body["failures"] = self.failures
        if self.pendings:
            body["pendings"] = self.pendings
        return body


# --------------------------------------------------------------------------- protocol


class Store(Protocol):
    """What every backend (SQLite, PostgreSQL) provides. All methods are synchronous."""

    # lifecycle
    def migrate(self) -> list[str]: ...
    def check_ready(self) -> None: ...  # ConfigurationError unless migrated
    def close(self) -> None: ...
    def instance_secret(self) -> bytes: ...
    def get_setting(self, key: str) -> str | None: ...
    def generation(self) -> int: ...
    def set_setting(self, key: str, value: str) -> None: ...

    # organisations and users
    def add_org(self, name: str, identity: dict[str, Any]) -> Organisation: ...
    def get_org(self, name_or_id: str | int) -> Organisation | None: ...
    def list_orgs(self) -> list[Organisation]: ...
    def add_user(self, name: str, org_id: int, role: Role, password_hash: str | None) -> User: ...
    def get_user(self, name_or_id: str | int) -> User | None: ...
    def list_users(self) -> list[User]: ...
    def user_password_hash(self, user_id: int) -> str | None: ...
    def set_user_password_hash(self, user_id: int, password_hash: str) -> None: ...
    def set_user_disabled(self, user_id: int, disabled: bool) -> None: ...
    def set_user_role(self, user_id: int, role: Role) -> None: ...
    def add_token(
        self, user_id: int, token_hash: str, expires: str | None, label: str | None
    ) -> Token: ...
    def find_token(self, token_hash: str) -> tuple[Token, User] | None: ...
    def touch_token(self, token_id: int, when: str) -> None: ...
    def list_tokens(self, user_id: int | None = None) -> list[Token]: ...
    def revoke_token(self, token_id: int) -> bool: ...

    # failed logins (slow-down and lockout)
    def login_state(self, name: str) -> tuple[int, str | None]: ...
    def record_login_failure(self, name: str, now: str, locked_until: str | None) -> int: ...
    def set_login_lock(self, name: str, locked_until: str) -> None: ...
    def clear_login_failures(self, name: str) -> None: ...

    # api roots and collections
    def add_api_root(self, root: ApiRoot) -> ApiRoot: ...
    def get_api_root(self, name: str) -> ApiRoot | None: ...
    def list_api_roots(self) -> list[ApiRoot]: ...
    def add_collection(self, collection: Collection) -> Collection: ...
    def get_collection(
        self, id_or_alias: str, api_root: str | None = None
    ) -> Collection | None: ...
    def list_collections(self, api_root: str | None = None) -> list[Collection]: ...
    def set_grant(self, collection_id: str, org_id: int, read: bool, write: bool) -> None: ...

    # objects
    def write_versions(
        self,
        collection_id: str,
        versions: Sequence[NewVersion],
        *,
        writer: Principal,
        peer: str | None = None,
        access: Access | None = None,
        audit: AuditEvent | None = None,
    ) -> list[WriteResult]: ...
    def query(self, query: Query) -> Page: ...
    def iter_versions(self, collection_id: str, batch: int = 1000) -> Iterator[StoredVersion]: ...
    def delete_object(
        self,
        collection_id: str,
        object_id: str,
        versions: VersionFilter,
        spec_versions: tuple[str, ...] = (),
        *,
        access: Access | None = None,
        creator_org: int | None = None,
        audit: AuditEvent | None = None,
    ) -> int: ...
    def count_versions(self, collection_id: str) -> int: ...

    # whole-instance copy between backends (tables of storage.sqlite.COPY_TABLES)
    def dump_rows(
        self, table: str, batch: int = 5000
    ) -> tuple[list[str], Iterator[tuple[Any, ...]]]: ...
    def load_rows(self, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> int: ...

    # federation state: JSON documents under path-like keys (not cached, no generation bump)
    def get_state(self, key: str) -> str | None: ...
    def put_state(self, key: str, value: str) -> None: ...
    def list_state(self, prefix: str) -> list[tuple[str, str]]: ...
    def delete_state(self, prefix: str) -> int: ...  # every key starting with prefix

    # leases (background work done once across processes)
    def try_lease(self, name: str, holder: str, seconds: float) -> bool: ...
    def release_lease(self, name: str, holder: str) -> None: ...

    # status resources
    def save_status(self, status: StatusRecord) -> None: ...
    def get_status(self, api_root: str, status_id: str) -> StatusRecord | None: ...
    def expire_statuses(self, now: str) -> int: ...

    # audit log (append-only, hash-chained)
    def append_audit(self, events: Sequence[AuditEvent]) -> None: ...
    def audit_head(self) -> tuple[int, str] | None: ...
    def iter_audit(
        self,
        *,
        user_id: int | None = None,
        org_id: int | None = None,
        collection_id: str | None = None,
        since: str | None = None,
        until: str | None = None,
        batch: int = 1000,
    ) -> Iterator[AuditRow]: ...

    # conflicts (different body under an existing (id, version))
    def list_conflicts(self, limit: int = 100) -> list[dict[str, Any]]: ...


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    buf: list[Any] = []
    for item in items:
        buf.append(item)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf
