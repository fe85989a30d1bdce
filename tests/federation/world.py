"""Partner agencies for federation tests: real instances, real servers on loopback.

Each agency has its own SQLite database and uvicorn server, its own organisation,
one organisation per partner (the organisation a partner's peer acts for), an analyst,
a sync account per partner (what the partner uses to read and write here), and one
collection ``shared`` that every organisation is granted read and write on (unless a
test changes the grants).
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from tansiq.access import admin
from tansiq.federation.client import Credentials, TaxiiClient
from tansiq.federation.peers import Mapping, Registry
from tansiq.federation.secrets import SecretBox
from tansiq.federation.sync import Scheduler
from tansiq.federation.report import PeerReport
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


def build_agency(tmp_path: Path, name: str, partners: list[str]) -> Agency:
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
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
