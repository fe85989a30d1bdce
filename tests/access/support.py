"""Builders and clients of the access suite (imported by its modules and its conftest).

Everything here is written for these tests: STIX objects are built by hand, the policy
oracle (:func:`sees`) restates DESIGN.md "Access semantics" without using Tansiq code, so
that the server is checked against the policy and not against itself.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

TAXII = "application/taxii+json;version=2.1"
PASSWORD = "a very long test password"

# TLP 2.0 (OASIS extension) and TLP 1.0 (STIX 2.1 section 7.2.1.4) marking definition ids
TLP_CLEAR = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
TLP_AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
TLP_AMBER_STRICT = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
TLP_RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
TLP1_WHITE = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
TLP1_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
TLP1_AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
TLP1_RED = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
# a statement marking (not TLP): never changes the level
STATEMENT = "marking-definition--3f0c6e9f-1b6e-4d43-9a57-2c8f1d3a4b5c"

CLEAR, GREEN, AMBER, AMBER_STRICT, RED = range(5)
LEVEL_NAMES = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")

# STIX 2.1 section 2.9: namespace of deterministic SCO identifiers
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")

ORGS = {"alpha": "Alpha CERT", "beta": "Beta Police", "gamma": "Gamma Customs"}
ROLES = ("reader", "analyst", "org-admin", "admin", "sync")
BASE_TIME = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


def stamp(seconds: int = 0) -> str:
    """A STIX timestamp with millisecond precision, ``seconds`` after a fixed base time."""
    dt = BASE_TIME + timedelta(seconds=seconds)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def malware(
    oid: str | None = None,
    *,
    modified: int = 0,
    markings: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A valid STIX 2.1 malware SDO created at ``stamp(0)``, modified ``stamp(modified)``."""
    obj: dict[str, Any] = {
        "type": "malware",
        "spec_version": "2.1",
        "id": oid or f"malware--{uuid.uuid4()}",
        "created": stamp(0),
        "modified": stamp(modified),
        "name": "dropper",
        "is_family": False,
    }
    if markings:
        obj["object_marking_refs"] = list(markings)
    obj.update(extra)
    return obj


def sco_id(value: str) -> str:
    contributing = json.dumps({"value": value}, separators=(",", ":"), sort_keys=True)
    return f"ipv4-addr--{uuid.uuid5(SCO_NAMESPACE, contributing)}"


def ipv4(value: str, *, markings: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """An ipv4-addr SCO with its deterministic id (no created/modified)."""
    obj: dict[str, Any] = {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": sco_id(value),
        "value": value,
    }
    if markings:
        obj["object_marking_refs"] = list(markings)
    obj.update(extra)
    return obj


def identity(name: str = "Outside vendor") -> dict[str, Any]:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": f"identity--{uuid.uuid4()}",
        "created": stamp(0),
        "modified": stamp(0),
        "name": name,
        "identity_class": "organization",
    }


def envelope(objects: list[Any]) -> bytes:
    return json.dumps({"objects": objects}).encode()


def basic(user: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def substitute(text: str, old: str, new: str) -> str:
    assert old in text, (old, text)
    return text.replace(old, new)


class Client:
    """httpx bound to one server and one caller (``authorization`` None: anonymous)."""

    def __init__(self, url: str, authorization: str | None = None) -> None:
        headers = {"Accept": TAXII}
        if authorization:
            headers["Authorization"] = authorization
        self.http = httpx.Client(base_url=url, headers=headers, timeout=60.0)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, params: Any = None, **headers: str) -> httpx.Response:
        return self.http.get(path, params=params, headers=headers or None)

    def delete(self, path: str, params: Any = None) -> httpx.Response:
        return self.http.delete(path, params=params)

    def post(self, path: str, body: bytes | list[Any], content_type: str = TAXII) -> httpx.Response:
        content = body if isinstance(body, bytes) else envelope(body)
        return self.http.post(path, content=content, headers={"Content-Type": content_type})


def error_body(r: httpx.Response, status: int) -> dict[str, Any]:
    """Assert a TAXII error of ``status`` and return its body."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == TAXII, r.headers
    body: dict[str, Any] = r.json()
    assert body["http_status"] == str(status), body
    return body


# --------------------------------------------------------------------------- the CLI


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(db: str | Path, *args: str, stdin: str = "") -> CliResult:
    """Run the real ``tansiq`` command in a subprocess against ``db`` (a SQLite file path
    or a PostgreSQL URL)."""
    env = {k: v for k, v in os.environ.items() if k != "TANSIQ_DATABASE"}
    proc = subprocess.run(
        [sys.executable, "-m", "tansiq", "--database", str(db), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


# --------------------------------------------------------------------------- the policy oracle


@dataclass(frozen=True)
class Caller:
    """A caller as the policy sees it (``name`` None: anonymous)."""

    name: str | None
    org: str | None = None  # short org name (alpha, beta, gamma)
    role: str | None = None

    @property
    def label(self) -> str:
        return self.name or "anonymous"


@dataclass(frozen=True)
class Grants:
    read: frozenset[str]
    write: frozenset[str]
    public: bool


@dataclass(frozen=True)
class Meta:
    """What the policy needs to know of one stored version."""

    level: int | None  # None: unmarked
    creator_org: str  # short org name of the creating organisation
    writer: str  # user name of the writer
    peer: bool  # received from a peer
    recipients: frozenset[str]  # named recipients (x_tansiq_recipients)


def can_read(caller: Caller, grants: Grants) -> bool:
    if caller.name is None:
        return grants.public
    if caller.role == "admin":
        return True
    return grants.public or caller.org in grants.read


def sees(caller: Caller, grants: Grants, meta: Meta, default: int) -> bool:
    """The need-to-know rule, restated from the policy."""
    if not can_read(caller, grants):
        return False
    level = default if meta.level is None else meta.level
    if level == CLEAR:
        return True
    if caller.name is None:
        return False
    if level == GREEN:
        return True
    if level in (AMBER, AMBER_STRICT):
        if caller.role == "sync" and meta.peer:
            return False
        return caller.role == "admin" or caller.org in grants.read or caller.org == meta.creator_org
    # RED: the named recipients and the writer; never a sync account, admins only when named
    return caller.role != "sync" and caller.name in (meta.recipients | {meta.writer})
