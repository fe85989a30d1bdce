"""The data set of the access matrix: three organisations, every role in each, two
collections, and objects under every marking the policy distinguishes.

Organisations and collections (the three relations of a caller to what it reads):

* ``priv`` (not public): Alpha reads and writes, Beta reads, Gamma has no grant;
* ``pub`` (public): Beta reads, Alpha only writes (it reads as the public does, but is
  the creating organisation of what its analyst writes), Gamma has no grant.

``alpha-analyst`` writes most objects through TAXII POST; ``beta-sync`` writes the rest
through the store, as a partner instance's machine account (``peer`` set when the
version arrived from a peer). Each version carries ``x_key`` (its spec key and index), so
that every object in a response can be traced back to the spec that says who may see it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from tansiq.access import admin
from tansiq.access.policy import access_for, default_tlp, writer_context
from tansiq.ingest.bundle import write_objects
from tansiq.storage.base import Collection, Organisation, Store, StoredVersion
from tests.conftest import LiveServer, open_database

from .support import (
    AMBER,
    AMBER_STRICT,
    CLEAR,
    GREEN,
    ORGS,
    RED,
    ROLES,
    STATEMENT,
    TLP1_AMBER,
    TLP1_GREEN,
    TLP1_RED,
    TLP1_WHITE,
    TLP_AMBER,
    TLP_AMBER_STRICT,
    TLP_CLEAR,
    TLP_GREEN,
    TLP_RED,
    Caller,
    Client,
    Grants,
    Meta,
    identity,
    ipv4,
    malware,
    run_cli,
    sees,
)

WRITER = "alpha-analyst"
SYNC_WRITER = "beta-sync"
PEER = "peer-x"

GRANTS = {
    "priv": Grants(read=frozenset({"alpha", "beta"}), write=frozenset({"alpha"}), public=False),
    "pub": Grants(read=frozenset({"beta"}), write=frozenset({"alpha"}), public=True),
}

CALLERS: list[Caller] = [
    *(Caller(f"{org}-{role}", org, role) for org in ORGS for role in ROLES),
    Caller(None),
]


@dataclass(frozen=True)
class V:
    """One version of a spec: its markings and the level they mean (None: unmarked)."""

    level: int | None
    markings: tuple[str, ...] = ()
    granular: tuple[str, ...] = ()  # marking refs on one property ("name" or "value")
    recipients: tuple[str, ...] | None = None  # x_tansiq_recipients
    creator: str | None = None  # created_by_ref: None (absent), "outside", or an org
    via: str = "taxii"  # taxii (alpha-analyst), peer or sync (beta-sync, through the store)


@dataclass(frozen=True)
class Spec:
    key: str
    kind: str  # sdo or sco
    versions: tuple[V, ...]


NAMED = (
    "alpha-reader",
    "beta-analyst",
    "gamma-reader",
    "beta-admin",
    "beta-sync",
    "gamma-org-admin",
)

SPECS: tuple[Spec, ...] = (
    Spec("clear", "sdo", (V(CLEAR, (TLP_CLEAR,)),)),
    Spec("green", "sdo", (V(GREEN, (TLP_GREEN,)),)),
    Spec("amber", "sdo", (V(AMBER, (TLP_AMBER,)),)),
    Spec("amber-strict", "sdo", (V(AMBER_STRICT, (TLP_AMBER_STRICT,)),)),
    Spec("red-named", "sdo", (V(RED, (TLP_RED,), recipients=NAMED),)),
    Spec("red-writer-only", "sdo", (V(RED, (TLP_RED,)),)),
    Spec("unmarked", "sdo", (V(None),)),
    Spec("unmarked-named", "sdo", (V(None, recipients=("beta-reader",)),)),
    Spec("statement-only", "sdo", (V(None, (STATEMENT,)),)),
    Spec("statement-green", "sdo", (V(GREEN, (STATEMENT, TLP_GREEN)),)),
    Spec("tlp1-white", "sdo", (V(CLEAR, (TLP1_WHITE,)),)),
    Spec("tlp1-green+strict", "sdo", (V(AMBER_STRICT, (TLP1_GREEN, TLP_AMBER_STRICT)),)),
    Spec("tlp1-amber+clear", "sdo", (V(AMBER, (TLP_CLEAR, TLP1_AMBER)),)),
    Spec("tlp1-red+green", "sdo", (V(RED, (TLP_GREEN, TLP1_RED), recipients=("gamma-analyst",)),)),
    Spec(
        "granular-red",
        "sdo",
        (V(RED, (TLP_CLEAR,), granular=(TLP_RED,), recipients=("beta-reader",)),),
    ),
    Spec("granular-tlp1-amber", "sdo", (V(AMBER, granular=(TLP1_AMBER,)),)),
    Spec("outside-amber", "sdo", (V(AMBER, (TLP_AMBER,), creator="outside"),)),
    Spec("own-amber-strict", "sdo", (V(AMBER_STRICT, (TLP_AMBER_STRICT,), creator="alpha"),)),
    Spec(
        "chain-green-red",
        "sdo",
        (V(GREEN, (TLP_GREEN,)), V(RED, (TLP_RED,), recipients=("alpha-reader",))),
    ),
    Spec("chain-red-green", "sdo", (V(RED, (TLP_RED,)), V(GREEN, (TLP_GREEN,)))),
    Spec(
        "chain-four",
        "sdo",
        (
            V(CLEAR, (TLP_CLEAR,)),
            V(AMBER, (TLP_AMBER,)),
            V(AMBER_STRICT, (TLP_AMBER_STRICT,)),
            V(RED, (TLP_RED,), recipients=("beta-analyst",)),
        ),
    ),
    Spec("chain-unmarked", "sdo", (V(None), V(CLEAR, (TLP_CLEAR,)), V(None))),
    Spec("sco-green", "sco", (V(GREEN, (TLP_GREEN,)),)),
    Spec("sco-amber", "sco", (V(AMBER, (TLP_AMBER,)),)),
    Spec("sco-unmarked", "sco", (V(None),)),
    Spec(
        "sco-chain",
        "sco",
        (V(CLEAR, (TLP_CLEAR,)), V(RED, (TLP_RED,), recipients=("gamma-reader",))),
    ),
    Spec("peer-clear", "sdo", (V(CLEAR, (TLP_CLEAR,), creator="outside", via="peer"),)),
    Spec("peer-green", "sdo", (V(GREEN, (TLP_GREEN,), via="peer"),)),
    Spec("peer-amber", "sdo", (V(AMBER, (TLP_AMBER,), creator="outside", via="peer"),)),
    Spec("peer-amber-strict", "sdo", (V(AMBER_STRICT, (TLP_AMBER_STRICT,), via="peer"),)),
    Spec("peer-unmarked", "sdo", (V(None, via="peer"),)),
    Spec(
        "peer-red",
        "sdo",
        (V(RED, (TLP_RED,), recipients=("beta-reader", "alpha-admin"), via="peer"),),
    ),
    Spec("peer-gamma-amber", "sdo", (V(AMBER, (TLP_AMBER,), creator="gamma", via="peer"),)),
    Spec("sync-gamma-amber", "sdo", (V(AMBER, (TLP_AMBER,), creator="gamma", via="sync"),)),
    Spec("sync-local-amber-strict", "sdo", (V(AMBER_STRICT, (TLP_AMBER_STRICT,), via="sync"),)),
    Spec(
        "chain-local-then-peer",
        "sdo",
        (V(GREEN, (TLP_GREEN,)), V(AMBER, (TLP_AMBER,), creator="alpha", via="peer")),
    ),
)


@dataclass
class World:
    store: Store
    database: str  # SQLite file path or PostgreSQL URL
    server: LiveServer
    orgs: dict[str, Organisation]
    tokens: dict[str, str]
    colls: dict[str, Collection]
    default: int
    outside: dict[str, Any]
    ids: dict[str, str] = field(default_factory=dict)  # spec key -> object id
    rows: dict[str, list[StoredVersion]] = field(default_factory=dict)  # alias -> rows
    meta: dict[str, Meta] = field(default_factory=dict)  # x_key -> meta
    clients: dict[str | None, Client] = field(default_factory=dict)

    def __repr__(self) -> str:  # short: hypothesis prints the arguments of failing examples
        return f"World({self.database}, default={self.default})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, caller: Caller) -> Client:
        if caller.name not in self.clients:
            auth = None if caller.name is None else f"Bearer {self.tokens[caller.name]}"
            self.clients[caller.name] = Client(self.url, auth)
        return self.clients[caller.name]

    def base(self, alias: str) -> str:
        return f"/default/collections/{self.colls[alias].id}/"

    def key_of(self, row: StoredVersion) -> str:
        return str(json.loads(row.json)["x_key"])

    def visible(self, caller: Caller, alias: str) -> list[StoredVersion]:
        """Every version ``caller`` may see in ``alias``, in date_added order."""
        grants = GRANTS[alias]
        return [
            r
            for r in self.rows[alias]
            if sees(caller, grants, self.meta[self.key_of(r)], self.default)
        ]

    def versions_of(self, caller: Caller, alias: str, object_id: str) -> list[StoredVersion]:
        return [r for r in self.visible(caller, alias) if r.id == object_id]

    def pick(self, caller: Caller, alias: str, mode: str) -> list[StoredVersion]:
        """What ``match[version]=mode`` (first, last or all) returns, in date_added order."""
        rows = self.visible(caller, alias)
        if mode == "all":
            return rows
        chosen: dict[str, StoredVersion] = {}
        for r in rows:
            best = chosen.get(r.id)
            if best is None or (
                r.version > best.version if mode == "last" else r.version < best.version
            ):
                chosen[r.id] = r
        keep = {r.seq for r in chosen.values()}
        return [r for r in rows if r.seq in keep]

    def close(self) -> None:
        for c in self.clients.values():
            c.close()
        self.server.stop()
        self.store.close()


def _version_object(spec: Spec, index: int, v: V, oid: str, w: World, value: str) -> dict[str, Any]:
    markings = list(v.markings) or None
    extra: dict[str, Any] = {"x_key": f"{spec.key}@{index}"}
    if v.granular:
        selector = "name" if spec.kind == "sdo" else "value"
        extra["granular_markings"] = [
            {"marking_ref": m, "selectors": [selector]} for m in v.granular
        ]
    if v.recipients is not None:
        extra["x_tansiq_recipients"] = list(v.recipients)
    if spec.kind == "sco":
        return ipv4(value, markings=markings, **extra)
    if v.creator == "outside":
        extra["created_by_ref"] = w.outside["id"]
    elif v.creator is not None:
        extra["created_by_ref"] = w.orgs[v.creator].identity_id
    return malware(oid, modified=index * 10, markings=markings, **extra)


def _meta(v: V, w: World) -> Meta:
    writer = WRITER if v.via == "taxii" else SYNC_WRITER
    writer_org = writer.split("-", 1)[0]
    creator = v.creator if v.creator not in (None, "outside") else writer_org
    assert creator is not None
    return Meta(
        level=v.level,
        creator_org=creator,
        writer=writer,
        peer=v.via == "peer",
        recipients=frozenset(v.recipients or ()),
    )


def build_world(database: str, default: str | None = None) -> World:
    """Build the instance on ``database`` (migrated here), write the data set into both
    collections, start a server, and (when ``default`` is given) change the default
    marking with ``tansiq settings``."""
    store = open_database(database)
    store.migrate()
    admin.ensure_api_root(store)
    orgs = {short: admin.add_org(store, name) for short, name in ORGS.items()}
    tokens: dict[str, str] = {}
    for caller in CALLERS:
        if caller.name is not None:
            assert caller.org is not None and caller.role is not None
            tokens[caller.name] = admin.add_user(
                store, caller.name, ORGS[caller.org], caller.role
            ).token
    colls = {
        alias: admin.add_collection(
            store,
            f"Matrix {alias}",
            alias=alias,
            read=[ORGS[o] for o in sorted(g.read)],
            write=[ORGS[o] for o in sorted(g.write)],
            public=g.public,
        )
        for alias, g in GRANTS.items()
    }
    server = LiveServer(store).start()
    w = World(store, database, server, orgs, tokens, colls, AMBER, identity())

    per_via: dict[str, list[dict[str, Any]]] = {"taxii": [], "peer": [], "sync": []}
    for n, spec in enumerate(SPECS):
        value = f"198.51.100.{n + 1}"
        oid = f"malware--{uuid.uuid4()}"
        for i, v in enumerate(spec.versions):
            obj = _version_object(spec, i, v, oid, w, value)
            w.ids[spec.key] = obj["id"]
            w.meta[obj["x_key"]] = _meta(v, w)
            per_via[v.via].append(obj)

    writer = w.client(Caller(WRITER, "alpha", "analyst"))
    sync = admin.principal(store, SYNC_WRITER)
    for alias, coll in colls.items():
        r = writer.post(w.base(alias) + "objects/", per_via["taxii"])
        assert r.status_code == 202, r.text
        status = r.json()
        assert status["failure_count"] == 0 and status["success_count"] == status["total_count"], (
            status
        )
        for via, peer in (("peer", PEER), ("sync", None)):
            results = write_objects(
                store,
                coll.id,
                sync,
                per_via[via],
                peer=peer,
                writer=writer_context(store, sync),
                access=access_for(sync, coll, default_tlp(store)),
            )
            assert [r.outcome for r in results] == ["added"] * len(per_via[via]), results
        w.rows[alias] = list(store.iter_versions(coll.id))
        keys = sorted(w.key_of(r) for r in w.rows[alias])
        assert keys == sorted(w.meta), keys

    if default is not None:
        done = run_cli(database, "settings", "default-marking", default, "--json")
        assert done.code == 0, done.err
        assert done.json() == {"default_marking": default}
        w.default = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED").index(
            default
        )
    return w
