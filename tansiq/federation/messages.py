"""TAXII 2.1 resources as the federation client sees them: credentials, collections,
pages of objects, the outcome of a write, and the checks a 2xx body must pass."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tansiq.errors import PeerError

# --------------------------------------------------------------------------- values


@dataclass(frozen=True, repr=False)
class Credentials:
    """How to authenticate to a peer: a Bearer ``token``, or HTTP Basic ``user``/``password``.

    ``repr``/``str`` never show the token or the password.
    """

    token: str | None = None  # Bearer
    user: str | None = None  # Basic
    password: str | None = None

    def __post_init__(self) -> None:
        if self.token is not None and (self.user is not None or self.password is not None):
            raise PeerError(
                "peer credentials: give either a token or a user and password, not both",
                transient=False,
            )
        if self.password is not None and self.user is None:
            raise PeerError("peer credentials: a password needs a user name", transient=False)

    def __repr__(self) -> str:
        parts: list[str] = []
        if self.token is not None:
            parts.append("token=<hidden>")
        if self.user is not None:
            parts.append(f"user={self.user!r}")
        if self.password is not None:
            parts.append("password=<hidden>")
        return f"Credentials({', '.join(parts)})"

    __str__ = __repr__

    def authorization(self) -> str | None:
        """The value of the Authorization header, or None for anonymous access."""
        if self.token is not None:
            return f"Bearer {self.token}"
        if self.user is not None:
            pair = f"{self.user}:{self.password or ''}".encode()
            return "Basic " + base64.b64encode(pair).decode("ascii")
        return None

    def secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in a message (masked if a server echoes them)."""
        values: list[str] = []
        if self.token:
            values.append(self.token)
        if self.password:
            values.append(self.password)
        header = self.authorization()
        if header:
            values.append(header.split(" ", 1)[1])
        return tuple(v for v in values if len(v) >= 3)


@dataclass(frozen=True)
class RemoteCollection:
    id: str
    title: str
    alias: str | None
    can_read: bool
    can_write: bool
    media_types: tuple[str, ...]


@dataclass(frozen=True)
class ObjectsPage:
    objects: list[Any]  # JSON objects as sent; whatever else is there is rejected on ingest
    more: bool
    next: str | None
    date_added_first: str | None  # X-TAXII-Date-Added-First
    date_added_last: str | None  # X-TAXII-Date-Added-Last


@dataclass(frozen=True)
class PostOutcome:
    """The merged outcome of one ``add_objects`` call (one or more envelopes).

    ``status_id`` is the status id of the last envelope posted; ``total_count`` the number
    of objects given. Each entry of ``successes``/``failures``/``pendings`` is a TAXII
    status-details dictionary: ``id``, ``version`` and, when known, ``message``.
    """

    status_id: str | None
    total_count: int
    successes: list[dict[str, Any]]
    failures: list[dict[str, Any]]  # includes objects never sent (too large)
    pendings: list[dict[str, Any]]  # only when a status never completed within poll_timeout


# --------------------------------------------------------------------------- checks

# Validators of 2xx bodies: None when fine, else what is wrong (a transient fault: a
# proxy cutting a body short, a server answering with an HTML page, ...).


def check_discovery(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "not a JSON object"
    roots = data.get("api_roots")
    if roots is not None and not (
        isinstance(roots, list) and all(isinstance(r, str) for r in roots)
    ):
        return "'api_roots' is not a list of URLs"
    if data.get("default") is not None and not isinstance(data.get("default"), str):
        return "'default' is not a URL"
    return None


def check_object(data: Any) -> str | None:
    return None if isinstance(data, dict) else "not a JSON object"


def check_collections(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "not a JSON object"
    items = data.get("collections", [])
    if not isinstance(items, list):
        return "'collections' is not a list"
    for item in items:
        problem = check_collection(item)
        if problem:
            return problem
    return None


def check_collection(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "a collection is not a JSON object"
    if not isinstance(data.get("id"), str) or not data["id"]:
        return "a collection has no 'id'"
    return None


def check_envelope(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "not a JSON object"
    objects = data.get("objects", [])
    if not isinstance(objects, list):
        return "'objects' is not a list"  # entries that are not objects are rejected one by one
    if not isinstance(data.get("more", False), bool):
        return "'more' is not a boolean"
    if data.get("next") is not None and not isinstance(data["next"], str | int):
        return "'next' is not a string"
    return None


def check_status(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "not a JSON object"
    if data.get("status") not in ("complete", "pending"):
        return "'status' is neither 'complete' nor 'pending'"
    for key in ("successes", "failures", "pendings"):
        value = data.get(key, [])
        if not isinstance(value, list):
            return f"'{key}' is not a list"
    return None


def to_collection(data: dict[str, Any]) -> RemoteCollection:
    media = data.get("media_types")
    if isinstance(media, list) and all(isinstance(m, str) for m in media):
        media_types = tuple(media)
    else:
        media_types = ("application/stix+json",)  # section 5.2.1: the meaning of absence
    title = data.get("title")
    alias = data.get("alias")
    return RemoteCollection(
        id=data["id"],
        title=title if isinstance(title, str) else data["id"],
        alias=alias if isinstance(alias, str) and alias else None,
        can_read=data.get("can_read") is True,
        can_write=data.get("can_write") is True,
        media_types=media_types,
    )


def describe(collections: Sequence[RemoteCollection], shown: int = 20) -> str:
    if not collections:
        return "none visible with these credentials"
    parts = []
    for c in collections[:shown]:
        alias = f", alias '{c.alias}'" if c.alias else ""
        parts.append(f"{c.id} ('{c.title}'{alias})")
    more = len(collections) - shown
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
