"""Partner agencies for federation tests: real instances, real servers on loopback.

Each agency has its own SQLite database and uvicorn server, its own organisation,
one organisation per partner (the organisation a partner's peer acts for), an analyst,
a sync account per partner (what the partner uses to read and write here), and one
collection ``shared`` that every organisation is granted read and write on (unless a
test changes the grants).
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import orjson

from tansiq.access import admin
from tansiq.federation.client import Credentials, TaxiiClient
from tansiq.federation.peers import Mapping, Peer, Registry
from tansiq.federation.report import PeerReport
from tansiq.federation.secrets import SecretBox
from tansiq.federation.sync import Scheduler
from tansiq.ingest.bundle import write_objects
from tansiq.stix.markings import TLP2_BY_NAME
from tansiq.storage.base import Store
from tansiq.storage.sqlite import SQLiteStore
from tests.conftest import LiveServer

TAXII = "application/taxii+json;version=2.1"
_counter = itertools.count(1)


def org_of(name: str) -> str:
    return f"Agency {name.upper()}"


@dataclass
class Agency:
    name: str
    store: Store
    server: LiveServer
    registry: Registry
    analyst: str
    tokens: dict[str, str] = field(default_factory=dict)  # user name -> token
    collection: str = ""  # id of "shared"

    @property
    def discovery(self) -> str:
        return f"{self.server.url}/taxii2/"

    @property
    def objects_url(self) -> str:
        return f"{self.server.url}/default/collections/{self.collection}/objects/"

    def sync_token(self, partner: str) -> str:
        return self.tokens[f"sync-{partner}"]

    def write(self, objects: list[dict[str, Any]], user: str | None = None) -> None:
        principal = admin.principal(self.store, user or self.analyst)
        results = write_objects(self.store, self.collection, principal, objects)
        bad = [r for r in results if not r.ok]
        assert not bad, bad

    def versions(self) -> Counter[tuple[str, str]]:
        """(id, version) of every stored version of ``shared``, with multiplicity."""
        return Counter((v.id, v.version) for v in self.store.iter_versions(self.collection))

    def bodies(self) -> dict[tuple[str, str], bytes]:
        return {(v.id, v.version): v.json for v in self.store.iter_versions(self.collection)}

    def provenance(self) -> dict[tuple[str, str], str | None]:
        return {(v.id, v.version): v.peer for v in self.store.iter_versions(self.collection)}

    def add_peer(self, partner: Agency, *, pull: bool, push: bool) -> None:
        """Register ``partner`` as a peer, with a sync account of ours on its side."""
        creds = Credentials(token=partner.sync_token(self.name))
        org = admin.require_org(self.store, org_of(partner.name))
        self.registry.add(partner.name, partner.discovery, org, creds, interval=5.0)
        if pull:
            self.registry.add_mapping(partner.name, Mapping("pull", "shared", self.collection))
        if push:
            self.registry.add_mapping(partner.name, Mapping("push", "shared", self.collection))

    def sync(self, *names: str) -> list[PeerReport]:
        scheduler = Scheduler(self.store, self.registry)
        try:
            return scheduler.run_once(list(names) or None)
        finally:
            scheduler.close()

    def taxii_get(self, user: str) -> list[dict[str, Any]]:
        """Every version of ``shared`` as ``user`` reads it over TAXII."""
        out: list[dict[str, Any]] = []
        with TaxiiClient(self.discovery, Credentials(token=self.tokens[user])) as client:
            for page in client.iter_pages(self.collection):
                out.extend(page.objects)
        return out

    def close(self) -> None:
        self.server.stop()
        self.store.close()


def build_agency(
    tmp_path: Path, name: str, partners: list[str], *, database: str | None = None
) -> Agency:
    """``database``: a PostgreSQL URL (an empty database) instead of a SQLite file."""
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    store: Store
    if database is not None:
        from tansiq.storage.postgres import PostgresStore

        store = PostgresStore(database)
    else:
        store = SQLiteStore(folder / "tansiq.db")
    store.migrate()
    admin.ensure_api_root(store)
    orgs = [org_of(name), *(org_of(p) for p in partners)]
    for org in orgs:
        admin.add_org(store, org)
    tokens = {}
    analyst = f"{name}-analyst"
    tokens[analyst] = admin.add_user(store, analyst, org_of(name), "analyst").token
    for p in partners:
        tokens[f"sync-{p}"] = admin.add_user(store, f"sync-{p}", org_of(p), "sync").token
        tokens[f"{p}-reader"] = admin.add_user(store, f"{p}-reader", org_of(p), "reader").token
    coll = admin.add_collection(store, "Shared", alias="shared", read=orgs, write=orgs)
    registry = Registry(store, SecretBox(folder / "peer-key"))
    server = LiveServer(store).start()
    return Agency(name, store, server, registry, analyst, tokens, coll.id)


@contextlib.contextmanager
def chain_of_three(
    tmp_path: Path, *, middle: str | None = None
) -> Iterator[tuple[Agency, Agency, Agency]]:
    """Agencies a, b and c, b partnered with both (``middle``: b on that PostgreSQL URL)."""
    a = build_agency(tmp_path, "a", ["b"])
    b = build_agency(tmp_path, "b", ["a", "c"], database=middle)
    c = build_agency(tmp_path, "c", ["b"])
    try:
        yield a, b, c
    finally:
        for agency in (a, b, c):
            agency.close()


# --------------------------------------------------------------------------- content

TLP = {k.removeprefix("TLP:"): v for k, v in TLP2_BY_NAME.items()}


def indicator(label: str, marking: str | None, *, modified: str | None = None) -> dict[str, Any]:
    n = next(_counter)
    created = "2026-01-01T00:00:00.000Z"
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": created,
        "modified": modified or created,
        "name": f"{label} {n}",
        "pattern": f"[ipv4-addr:value = '10.0.{n // 250}.{n % 250}']",
        "pattern_type": "stix",
        "valid_from": created,
    }
    if marking is not None:
        obj["object_marking_refs"] = [TLP[marking]]
    return obj


def new_version(obj: dict[str, Any], modified: str) -> dict[str, Any]:
    out = dict(obj)
    out["modified"] = modified
    return out


def raw_get(url: str, token: str, **params: str) -> httpx.Response:
    return httpx.get(
        url, params=params, headers={"Accept": TAXII, "Authorization": f"Bearer {token}"}
    )


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


# --------------------------------------------------------------------------- topologies
# Helpers for the chain, triangle, medallion and invalid-peer tests.


def add_collection(agency: Agency, alias: str, members: list[str]) -> str:
    """A collection on ``agency`` that the organisations of ``members`` (agency names,
    its own included when wanted) may read and write; returns its id."""
    orgs = [org_of(m) for m in members]
    return admin.add_collection(agency.store, alias.title(), alias=alias, read=orgs, write=orgs).id


def write_to(agency: Agency, collection_id: str, objects: list[dict[str, Any]]) -> None:
    principal = admin.principal(agency.store, agency.analyst)
    results = write_objects(agency.store, collection_id, principal, objects)
    bad = [r for r in results if not r.ok]
    assert not bad, bad


def versions_in(agency: Agency, collection_id: str) -> Counter[tuple[str, str]]:
    return Counter((v.id, v.version) for v in agency.store.iter_versions(collection_id))


def map_collection(
    agency: Agency, partner: str, direction: Literal["pull", "push"], remote: str, local: str
) -> None:
    """Map a collection without asking the peer (the CLI's --no-check)."""
    agency.registry.add_mapping(partner, Mapping(direction, remote, local))


def revoke(obj: dict[str, Any], modified: str) -> dict[str, Any]:
    """A new version of ``obj`` that revokes it."""
    out = new_version(obj, modified)
    out["revoked"] = True
    return out


def vkey(obj: dict[str, Any]) -> tuple[str, str]:
    """(id, version) of an object as written."""
    return obj["id"], obj["modified"]


@dataclass
class Post:
    """One envelope an agency POSTed to a peer while syncing."""

    sender: str
    peer: str
    url: str
    objects: list[dict[str, Any]]

    @property
    def keys(self) -> set[tuple[str, str]]:
        return {(o["id"], o["modified"]) for o in self.objects}


class _RecordingTransport(httpx.BaseTransport):
    """Real HTTP, with every POSTed envelope noted in ``posts``."""

    def __init__(self, sender: str, peer: str, posts: list[Post]) -> None:
        self.inner = httpx.HTTPTransport()
        self.sender = sender
        self.peer = peer
        self.posts = posts

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            envelope = orjson.loads(request.read())
            self.posts.append(
                Post(self.sender, self.peer, str(request.url), list(envelope.get("objects", [])))
            )
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def sync_recorded(agency: Agency, posts: list[Post], *names: str) -> list[PeerReport]:
    """``agency.sync(*names)``, noting in ``posts`` every envelope it POSTs to a peer."""

    def factory(peer: Peer, credentials: Credentials) -> TaxiiClient:
        transport = _RecordingTransport(agency.name, peer.name, posts)
        return TaxiiClient(peer.url, credentials, api_root=peer.api_root, transport=transport)

    scheduler = Scheduler(agency.store, agency.registry, client_factory=factory)
    try:
        return scheduler.run_once(list(names) or None)
    finally:
        scheduler.close()


def moved(reports: list[PeerReport]) -> tuple[int, int]:
    """(versions added on our side by pulls, versions offered to peers by pushes)."""
    added = sum(m.added for r in reports for m in r.mappings if m.direction == "pull")
    offered = sum(m.objects for r in reports for m in r.mappings if m.direction == "push")
    return added, offered


MARKS: list[str | None] = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED", None]
ONE_HOP: set[str | None] = {"AMBER", "AMBER+STRICT", None}  # unmarked = default TLP:AMBER
TRAVELS: set[str | None] = {"CLEAR", "GREEN"}
NOT_RED: set[str | None] = ONE_HOP | TRAVELS
ALL_MARKS: set[str | None] = set(MARKS)


def sample(label: str) -> tuple[dict[str | None, dict[str, Any]], list[dict[str, Any]]]:
    """One indicator per marking (None: unmarked), and later versions of three of them:
    a revised GREEN, a revoked CLEAR and a revoked AMBER."""
    first = {m: indicator(label, m) for m in MARKS}
    later = [
        new_version(first["GREEN"], "2026-02-01T00:00:00.000Z"),
        revoke(first["CLEAR"], "2026-02-02T00:00:00.000Z"),
        revoke(first["AMBER"], "2026-02-03T00:00:00.000Z"),
    ]
    return first, later


def marking_of(obj: dict[str, Any]) -> str | None:
    """The TLP name of an object written by these tests (None: unmarked)."""
    names = {v: k for k, v in TLP.items()}
    refs = obj.get("object_marking_refs") or [None]
    return names.get(refs[0])


def keys_of(objects: list[dict[str, Any]], marks: set[str | None]) -> Counter[tuple[str, str]]:
    """Each version of ``objects`` whose marking is in ``marks``, once."""
    return Counter(vkey(o) for o in objects if marking_of(o) in marks)


def from_partner(provenance: str | None, partner: str) -> bool:
    """Whether a version's provenance says it came from ``partner`` (pulled from it, or
    pushed by its sync account)."""
    return provenance in (partner, f"sync:sync-{partner}")
