"""Builders and a thin HTTP client for the TAXII 2.1 suite (imported by the test modules).

Objects are built by hand (no STIX library) so that every byte the server receives is
known; the same dictionaries are what the tests compare the server's answers against.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tansiq.storage.base import Store
from tests.conftest import PASSWORD

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"

TLP_CLEAR = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"

# TAXII 2.1 section 2 "timestamp": YYYY-MM-DDTHH:MM:SS.ssssssZ, microsecond precision, UTC.
TAXII_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# STIX 2.1 section 2.9: namespace of deterministic (UUIDv5) SCO identifiers
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")

BASE_TIME = datetime(2021, 3, 1, 12, 0, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- STIX builders


def ts(seconds: float = 0) -> str:
    """A STIX timestamp (millisecond precision) ``seconds`` after a fixed base time."""
    dt = BASE_TIME + timedelta(seconds=seconds)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def sid(stix_type: str) -> str:
    return f"{stix_type}--{uuid.uuid4()}"


def sdo(
    stix_type: str = "malware",
    object_id: str | None = None,
    *,
    modified: str | None = None,
    created: str | None = None,
    name: str | None = None,
    marking: str | None = TLP_GREEN,
    **extra: Any,
) -> dict[str, Any]:
    """A small valid STIX 2.1 SDO. ``created`` defaults to ``ts(0)``, ``modified`` to ``created``."""
    object_id = object_id or sid(stix_type)
    stix_type = object_id.split("--", 1)[0]
    created = created or ts(0)
    obj: dict[str, Any] = {
        "type": stix_type,
        "spec_version": "2.1",
        "id": object_id,
        "created": created,
        "modified": modified or created,
    }
    if stix_type == "indicator":
        obj.update(
            name=name or "bad address",
            pattern="[ipv4-addr:value = '198.51.100.7']",
            pattern_type="stix",
            valid_from=created,
        )
    elif stix_type == "malware":
        obj.update(name=name or "dropper", is_family=False)
    elif stix_type == "intrusion-set":
        obj.update(name=name or "group")
    else:
        obj.update(name=name or f"some {stix_type}")
    if marking:
        obj["object_marking_refs"] = [marking]
    obj.update(extra)
    return obj


def version_of(obj: dict[str, Any], seconds: float, **changes: Any) -> dict[str, Any]:
    """A new version of an SDO: same id and created, ``modified`` = created + seconds."""
    new = dict(obj)
    created = datetime.strptime(obj["created"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    dt = created + timedelta(seconds=seconds)
    new["modified"] = dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    new.update(changes)
    return new


def ipv4(value: str, **extra: Any) -> dict[str, Any]:
    """An ipv4-addr SCO with its deterministic id (no created/modified: unversioned)."""
    contributing = json.dumps({"value": value}, separators=(",", ":"), sort_keys=True)
    obj: dict[str, Any] = {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": f"ipv4-addr--{uuid.uuid5(SCO_NAMESPACE, contributing)}",
        "value": value,
    }
    obj.update(extra)
    return obj


def invalid_indicator() -> dict[str, Any]:
    """An indicator without its required pattern, pattern_type and valid_from."""
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": sid("indicator"),
        "created": ts(0),
        "modified": ts(0),
        "name": "no pattern",
    }


def envelope(objects: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"objects": list(objects)}


def taxii_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# --------------------------------------------------------------------------- HTTP


def basic(user: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class World:
    """What a test talks to: a store, its live server and the collections of the test.

    ``collections`` maps the aliases of ``tests/conftest.py`` (shared, alpha-only,
    write-only, public, other-root) and any alias a test adds to collection ids.
    """

    store: Store
    url: str
    tokens: dict[str, str]
    collections: dict[str, str]

    def identity(self, user: str) -> str:
        """STIX identity id of the organisation of ``user``."""
        found = self.store.get_user(user)
        assert found is not None, user
        org = self.store.get_org(found.org_id)
        assert org is not None
        return org.identity_id

    def authored(self, user: str, objects: Iterable[Any]) -> list[Any]:
        """``objects``, each SDO/SRO without a creator given ``created_by_ref`` = the org of
        ``user`` (in place), as a writing analyst sends them: what the server stores is then
        exactly what was posted."""
        creator = self.identity(user)
        out = list(objects)
        for obj in out:
            if (
                isinstance(obj, dict)
                and "created" in obj
                and "created_by_ref" not in obj
                and obj.get("type") != "marking-definition"
            ):
                obj["created_by_ref"] = creator
        return out


class Api:
    """httpx bound to one live server and one caller (bearer, basic or anonymous)."""

    def __init__(self, world: World, authorization: str | None, user: str | None = None) -> None:
        self.world = world
        self.user = user  # the user the credentials belong to, when known
        self.base_url = base_url = world.url
        headers = {"Accept": TAXII}
        if authorization:
            headers["Authorization"] = authorization
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=60.0)

    def close(self) -> None:
        self.http.close()

    # paths ---------------------------------------------------------------

    def coll(self, alias: str) -> str:
        """Path of a collection known by its alias in ``instance.collections`` (or an id)."""
        cid = self.world.collections.get(alias, alias)
        found = self.world.store.get_collection(cid)
        root = found.api_root if found is not None else "default"
        return f"/{root}/collections/{cid}/"

    def objects_path(self, alias: str) -> str:
        return self.coll(alias) + "objects/"

    def object_path(self, alias: str, object_id: str) -> str:
        return f"{self.coll(alias)}objects/{object_id}/"

    def versions_path(self, alias: str, object_id: str) -> str:
        return f"{self.coll(alias)}objects/{object_id}/versions/"

    def manifest_path(self, alias: str) -> str:
        return self.coll(alias) + "manifest/"

    # requests ------------------------------------------------------------

    def get(
        self, path: str, params: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.http.get(path, params=params, headers=headers)

    def delete(self, path: str, params: Any = None) -> httpx.Response:
        return self.http.delete(path, params=params)

    def post(
        self, path: str, body: Any, content_type: str | None = TAXII, **headers: str
    ) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs = dict(headers)
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        return self.http.post(path, content=content, headers=hdrs)

    def post_objects(self, alias: str, objects: Iterable[dict[str, Any]]) -> httpx.Response:
        """POST an envelope; SDOs/SROs are authored by the caller's organisation (in place)."""
        if self.user is not None:
            objects = self.world.authored(self.user, objects)
        return self.post(self.objects_path(alias), envelope(objects))

    def add(self, alias: str, objects: Iterable[dict[str, Any]]) -> dict[str, Any]:
        """POST an envelope; asserts 202 and returns the status resource."""
        r = self.post_objects(alias, objects)
        assert r.status_code == 202, r.text
        body: dict[str, Any] = r.json()
        return body

    def pages(
        self, path: str, params: dict[str, Any] | None = None, max_pages: int = 100_000
    ) -> Iterator[httpx.Response]:
        """Every page of a listing, following ``next`` (asserts 200 on each)."""
        query = dict(params or {})
        for _ in range(max_pages):
            r = self.get(path, params=query)
            assert r.status_code == 200, r.text
            yield r
            body = r.json()
            if not body.get("more"):
                return
            assert "next" in body, body
            query = dict(params or {})
            query["next"] = body["next"]
        raise AssertionError("paging does not end")

    def manifest(self, alias: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every manifest record of a collection (all pages)."""
        out: list[dict[str, Any]] = []
        for r in self.pages(self.manifest_path(alias), params):
            out.extend(r.json().get("objects", []))
        return out

    def objects(self, alias: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for r in self.pages(self.objects_path(alias), params):
            out.extend(r.json().get("objects", []))
        return out


# --------------------------------------------------------------------------- assertions


def assert_taxii_type(r: httpx.Response) -> None:
    """TAXII 2.1 section 3.1: every response carries the TAXII media type with its version."""
    assert r.headers.get("content-type") == TAXII, (r.status_code, r.headers.get("content-type"))


def assert_error(r: httpx.Response, status: int) -> dict[str, Any]:
    """An HTTP error with a TAXII error message (section 3.6.1) whose http_status matches."""
    assert r.status_code == status, (r.status_code, r.text)
    assert_taxii_type(r)
    body: dict[str, Any] = r.json()
    assert isinstance(body.get("title"), str) and body["title"], body
    assert body.get("http_status") == str(status), body
    if "description" in body:
        assert isinstance(body["description"], str)
    return body


def assert_date_headers(r: httpx.Response, first: str, last: str) -> None:
    """X-TAXII-Date-Added-First/-Last (section 3.2) equal the page's first/last date_added."""
    got_first = r.headers.get("x-taxii-date-added-first")
    got_last = r.headers.get("x-taxii-date-added-last")
    assert got_first == first, (got_first, first)
    assert got_last == last, (got_last, last)
    assert TAXII_TIMESTAMP.match(got_first), got_first
    assert TAXII_TIMESTAMP.match(got_last), got_last


def strip_volatile(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k not in ("id", "request_timestamp")}
