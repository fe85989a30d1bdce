"""Parse TAXII query parameters into a storage Query; every malformed filter is a 400."""

from __future__ import annotations

import re
from collections.abc import Iterable

from tansiq.errors import InvalidInput
from tansiq.stix.timestamps import timestamp_key
from tansiq.storage.base import Query, VersionFilter

_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]$")
_ID = re.compile(
    r"^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_SPEC = re.compile(r"^\d+\.\d+$")

ALL_FILTERS = (
    "added_after",
    "limit",
    "next",
    "match[id]",
    "match[type]",
    "match[version]",
    "match[spec_version]",
)


def _values(params: Iterable[tuple[str, str]], name: str) -> list[str]:
    """The comma-separated values of a filter given at most once (TAXII 2.1 section 3.4)."""
    raw = _single(params, name)
    if raw is None:
        return []
    parts = [p.strip() for p in raw.split(",")]
    if any(not p for p in parts):
        raise InvalidInput(f"filter '{name}' has an empty value")
    if len(set(parts)) != len(parts):
        raise InvalidInput(f"filter '{name}' repeats a value")
    return parts


def _single(params: Iterable[tuple[str, str]], name: str) -> str | None:
    found = [v for k, v in params if k == name]
    if len(found) > 1:
        raise InvalidInput(f"filter '{name}' is given more than once")
    return found[0] if found else None


def timestamp(value: str, name: str) -> str:
    try:
        return timestamp_key(value)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"filter '{name}' value '{value}' is not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z)"
        ) from exc


def parse_versions(params: list[tuple[str, str]], default_last: bool = True) -> VersionFilter:
    values = _values(params, "match[version]")
    if not values:
        return VersionFilter(last=default_last, all=not default_last)
    if "all" in values and len(values) > 1:
        raise InvalidInput("filter 'match[version]' value 'all' must stand alone")
    first = last = every = False
    exact: list[str] = []
    for v in values:
        if v == "first":
            first = True
        elif v == "last":
            last = True
        elif v == "all":
            every = True
        else:
            timestamp(v, "match[version]")  # validates
            exact.append(v)
    return VersionFilter(first=first, last=last, all=every, exact=tuple(exact))


def parse_spec_versions(params: list[tuple[str, str]]) -> tuple[str, ...]:
    values = _values(params, "match[spec_version]")
    for v in values:
        if not _SPEC.match(v):
            raise InvalidInput(
                f"filter 'match[spec_version]' value '{v}' is not a version like 2.1"
            )
    return tuple(values)


def parse_limit(params: list[tuple[str, str]], default: int, maximum: int) -> int:
    raw = _single(params, "limit")
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise InvalidInput(f"filter 'limit' must be a positive integer, not '{raw}'")
    return min(int(raw), maximum)


def parse_query(
    params: list[tuple[str, str]],
    collection_id: str,
    *,
    default_limit: int,
    max_limit: int,
    allow: Iterable[str] = ALL_FILTERS,
    object_id: str | None = None,
    all_versions: bool = False,
) -> Query:
    """A Query from the request parameters; filters the endpoint does not support are refused."""
    allowed = set(allow)
    for key, _ in params:
        if (key.startswith("match[") or key in ALL_FILTERS) and key not in allowed:
            raise InvalidInput(f"filter '{key}' is not supported on this endpoint")
        if key.startswith("match[") and key not in ALL_FILTERS:
            raise InvalidInput(f"unknown filter '{key}'")
    added_after = _single(params, "added_after")
    ids: tuple[str, ...] = ()
    if object_id is not None:
        ids = (object_id,)
    else:
        ids = tuple(_values(params, "match[id]"))
        for i in ids:
            if not _ID.match(i):
                raise InvalidInput(f"filter 'match[id]' value '{i}' is not a STIX identifier")
    types = tuple(_values(params, "match[type]"))
    for t in types:
        if not _TYPE.match(t) or "--" in t:
            raise InvalidInput(f"filter 'match[type]' value '{t}' is not a STIX type name")
    versions = VersionFilter(all=True, last=False) if all_versions else parse_versions(params)
    return Query(
        collection_id=collection_id,
        added_after=timestamp(added_after, "added_after") if added_after is not None else None,
        limit=parse_limit(params, default_limit, max_limit),
        ids=ids,
        types=types,
        versions=versions,
        spec_versions=parse_spec_versions(params),
    )
