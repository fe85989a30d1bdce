"""Property-based fuzzing of the HTTP API with hypothesis, over the matrix data set.

Reads: random callers, collections, endpoints, object ids (stored, hidden, fresh, junk)
and filters (valid, out of range, malformed; real ``next`` tokens of other callers and
queries). Invariants: never a 5xx, and no response (objects, manifest entries, versions,
date headers, following ``next`` pages) ever holds a version the policy forbids that caller.

Writes: random envelopes (mutated valid objects, arbitrary JSON, raw bytes) from every kind
of caller into a scratch collection. Invariants: never a 5xx, a status whose counts add
up, and nothing stored against the creator rules.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tansiq.access import admin
from tansiq.storage.base import Collection

from .support import (
    ORGS,
    STATEMENT,
    TLP1_AMBER,
    TLP1_RED,
    TLP_AMBER,
    TLP_CLEAR,
    TLP_GREEN,
    TLP_RED,
    Caller,
    can_read,
    identity,
    ipv4,
    malware,
    stamp,
)
from .world import CALLERS, GRANTS, World

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples on every run: a failure is reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TOKENS: list[str] = []  # next tokens met so far (any caller, any query)


@pytest.fixture(scope="module")
def scratch(amber_world: World) -> Collection:
    """A collection every organisation reads and writes, for the write fuzzing."""
    return admin.add_collection(
        amber_world.store, "Fuzz", alias="fuzz", read=list(ORGS.values()), write=list(ORGS.values())
    )


# --------------------------------------------------------------------------- reads

JUNK_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


def object_ids(world: World) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(sorted(world.ids.values())),
        st.sampled_from(["malware", "ipv4-addr", "identity"]).map(lambda t: f"{t}--{uuid.uuid4()}"),
        JUNK_TEXT.filter(lambda t: t not in ("", ".", "..")),
    )


def filters(world: World) -> dict[str, st.SearchStrategy[str]]:
    rows = world.rows["priv"] + world.rows["pub"]
    versions = sorted({r.version for r in rows})
    added = sorted({r.date_added for r in rows})
    one_version = st.one_of(
        st.sampled_from(["first", "last", "all"]), st.sampled_from(versions), JUNK_TEXT
    )
    return {
        "added_after": st.one_of(st.sampled_from(added), st.just(stamp(0)), JUNK_TEXT),
        "limit": st.one_of(st.integers(-2, 6).map(str), JUNK_TEXT),
        "match[id]": st.lists(object_ids(world), min_size=1, max_size=4).map(",".join),
        "match[type]": st.one_of(
            st.sampled_from(["malware", "ipv4-addr", "identity", "malware,ipv4-addr"]), JUNK_TEXT
        ),
        "match[version]": st.lists(one_version, min_size=1, max_size=3).map(",".join),
        "match[spec_version]": st.sampled_from(["2.1", "2.0", "2.1,2.0", "x", ""]),
        "next": st.one_of(
            JUNK_TEXT,
            st.integers(0, 10_000).map(lambda i: TOKENS[i % len(TOKENS)] if TOKENS else ""),
        ),
    }


def allowed_rows(world: World, caller: Caller, alias: str) -> list[Any]:
    if alias not in GRANTS or not can_read(caller, GRANTS[alias]):
        return []
    return world.visible(caller, alias)


def check_response(
    world: World, caller: Caller, alias: str, endpoint: str, oid: str, r: httpx.Response
) -> None:
    assert r.status_code < 500, (r.status_code, r.text[:500])
    if r.status_code != 200:
        return
    allowed = allowed_rows(world, caller, alias)
    body = r.json()
    for header in ("x-taxii-date-added-first", "x-taxii-date-added-last"):
        if header in r.headers:
            assert r.headers[header] in {v.date_added for v in allowed}, (caller.label, header)
    if endpoint in ("objects", "object"):
        by_key = {world.key_of(v): json.loads(v.json) for v in allowed}
        for obj in body.get("objects", []):
            assert obj.get("x_key") in by_key, (caller.label, alias, obj.get("x_key"))
            assert obj == by_key[obj["x_key"]]
    elif endpoint == "manifest":
        entries = [v.manifest_entry() for v in allowed]
        for entry in body.get("objects", []):
            assert entry in entries, (caller.label, alias, entry)
    elif endpoint == "versions":
        mine = {v.version for v in allowed if v.id == oid}
        for version in body.get("versions", []):
            assert version in mine, (caller.label, alias, oid, version)


def path_of(world: World, alias: str, endpoint: str, oid: str) -> str:
    coll = world.colls[alias].id if alias in world.colls else alias
    base = f"/default/collections/{quote(coll, safe='')}/"
    segment = quote(oid, safe="")
    return (
        base
        + {
            "objects": "objects/",
            "manifest": "manifest/",
            "object": f"objects/{segment}/",
            "versions": f"objects/{segment}/versions/",
            "collection": "",
        }[endpoint]
    )


@FUZZ
@given(data=st.data())
def test_fuzz_reads(amber_world: World, data: st.DataObject) -> None:
    world = amber_world
    caller = data.draw(st.sampled_from(CALLERS), label="caller")
    alias = data.draw(
        st.sampled_from(["priv", "pub", "priv", "pub", str(uuid.uuid4())]), label="alias"
    )
    endpoint = data.draw(
        st.sampled_from(["objects", "manifest", "object", "versions", "collection"])
    )
    oid = data.draw(object_ids(world), label="object id")
    params: dict[str, str] = {}
    for key, strategy in filters(world).items():
        if data.draw(st.booleans(), label=f"use {key}"):
            params[key] = data.draw(strategy, label=key)
    client = world.client(caller)
    path = path_of(world, alias, endpoint, oid)
    for _ in range(4):
        r = client.get(path, params)
        check_response(world, caller, alias, endpoint, oid, r)
        if r.status_code != 200 or not r.json().get("more"):
            break
        token = r.json().get("next")
        assert isinstance(token, str), r.text
        TOKENS.append(token)
        params = {**params, "next": token}


@settings(FUZZ, max_examples=100)
@given(data=st.data())
def test_fuzz_credentials(amber_world: World, data: st.DataObject) -> None:
    """Junk Authorization headers (any bytes HTTP can carry): never a 5xx, never data."""
    legal = [b for b in range(0x21, 0x100) if b != 0x7F]  # visible ASCII and obs-text (RFC 9110)
    raw = st.lists(st.sampled_from(legal), min_size=1, max_size=40).map(bytes)
    header = data.draw(
        st.one_of(
            raw,
            raw.map(lambda b: b"Basic " + b),
            raw.map(lambda b: b"Bearer " + b),
            st.binary(min_size=1, max_size=30).map(lambda b: b"Basic " + base64.b64encode(b)),
        ),
        label="authorization",
    )
    alias = data.draw(st.sampled_from(["priv", "pub"]))
    endpoint = data.draw(st.sampled_from(["objects", "manifest", "object"]))
    path = path_of(amber_world, alias, endpoint, amber_world.ids["clear"])
    with httpx.Client(base_url=amber_world.url, timeout=30) as client:
        r = client.get(
            path, headers={"Accept": "application/taxii+json;version=2.1", "Authorization": header}
        )
    assert r.status_code == 401, (header, r.status_code, r.text[:300])
    assert r.headers.get("www-authenticate")


# --------------------------------------------------------------------------- writes

WRITERS = [
    Caller("alpha-analyst", "alpha", "analyst"),
    Caller("alpha-org-admin", "alpha", "org-admin"),
    Caller("alpha-admin", "alpha", "admin"),
    Caller("beta-analyst", "beta", "analyst"),
    Caller("gamma-analyst", "gamma", "analyst"),
    Caller("beta-sync", "beta", "sync"),
    Caller("alpha-reader", "alpha", "reader"),
    Caller(None),
]

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | JUNK_TEXT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(JUNK_TEXT, children, max_size=4)
    ),
    max_leaves=20,
)


def base_objects(world: World) -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(
        [
            malware(),
            malware(markings=[TLP_GREEN]),
            ipv4("192.0.2.10"),
            identity(),
            {
                "type": "relationship",
                "spec_version": "2.1",
                "id": f"relationship--{uuid.uuid4()}",
                "created": stamp(0),
                "modified": stamp(0),
                "relationship_type": "uses",
                "source_ref": f"malware--{uuid.uuid4()}",
                "target_ref": f"malware--{uuid.uuid4()}",
            },
            {
                "type": "marking-definition",
                "spec_version": "2.1",
                "id": STATEMENT,
                "created": stamp(0),
                "definition_type": "statement",
                "definition": {"statement": "fuzz"},
            },
        ]
    ).map(
        lambda o: {
            **o,
            "id": o["id"]
            if o["type"] in ("ipv4-addr", "marking-definition")
            else f"{o['type']}--{uuid.uuid4()}",
        }
    )


def mutated(world: World) -> st.SearchStrategy[dict[str, Any]]:
    creators = st.sampled_from(
        [org.identity_id for org in world.orgs.values()]
        + [f"identity--{uuid.uuid4()}", "identity--bad", 5]
    )
    markings = st.lists(
        st.sampled_from(
            [TLP_CLEAR, TLP_GREEN, TLP_AMBER, TLP_RED, TLP1_AMBER, TLP1_RED, STATEMENT, "x", 1]
        ),
        max_size=3,
    )
    recipients = st.one_of(
        st.lists(st.sampled_from([c.name for c in CALLERS if c.name] + ["nobody", ""]), max_size=3),
        JSON,
    )

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        obj = dict(draw(base_objects(world)))
        if draw(st.booleans()):
            obj["created_by_ref"] = draw(creators)
        if draw(st.booleans()):
            obj["object_marking_refs"] = draw(markings)
        if draw(st.booleans()):
            obj["x_tansiq_recipients"] = draw(recipients)
        if draw(st.booleans()):
            obj["granular_markings"] = [
                {
                    "marking_ref": draw(st.sampled_from([TLP_RED, TLP_AMBER, "x"])),
                    "selectors": draw(st.sampled_from([["name"], [], ["nope"], "name"])),
                }
            ]
        for _ in range(draw(st.integers(0, 2))):
            key = draw(
                st.sampled_from(sorted(obj) + ["x_extra", "modified", "created", "id", "type"])
            )
            if draw(st.booleans()):
                obj.pop(key, None)
            else:
                obj[key] = draw(JSON)
        return obj

    return build()


def bodies(world: World) -> st.SearchStrategy[bytes]:
    envelopes = st.lists(st.one_of(mutated(world), JSON), max_size=5).map(
        lambda objs: json.dumps({"objects": objs}).encode()
    )
    return st.one_of(
        envelopes,
        envelopes,
        JSON.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
    )


def assert_creator_rules(world: World, scratch: Collection) -> None:
    """No stored version claims a local organisation other than its non-sync writer's."""
    orgs_by_identity = {o.identity_id: o.id for o in world.orgs.values()}
    users = {u.id: u for u in world.store.list_users()}
    for row in world.store.iter_versions(scratch.id):
        writer = users[row.writer_user_id] if row.writer_user_id is not None else None
        if writer is None or writer.role == "sync":
            continue
        claimed = orgs_by_identity.get(row.created_by or "")
        if claimed is not None and claimed != writer.org_id:
            raise AssertionError(
                f"{row.id} {row.version} claims org {claimed}, written by {writer.name}"
            )


@settings(FUZZ, max_examples=100)
@given(data=st.data())
def test_fuzz_writes(amber_world: World, scratch: Collection, data: st.DataObject) -> None:
    world = amber_world
    caller = data.draw(st.sampled_from(WRITERS), label="writer")
    body = data.draw(bodies(world), label="body")
    client = world.client(caller)
    path = f"/default/collections/{scratch.id}/objects/"
    r = client.http.post(
        path, content=body, headers={"Content-Type": "application/taxii+json;version=2.1"}
    )
    assert r.status_code < 500, (r.status_code, r.text[:500])
    if r.status_code == 202:
        status = r.json()
        assert status["total_count"] == status["success_count"] + status["failure_count"], status
    assert_creator_rules(world, scratch)
    after = client.get(path, {"match[version]": "all"})
    assert after.status_code < 500
    # the matrix collections are untouched by the writes
    assert [v.seq for v in world.store.iter_versions(world.colls["priv"].id)] == [
        v.seq for v in world.rows["priv"]
    ]
