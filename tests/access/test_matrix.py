"""The need-to-know matrix, generated: every caller (reader, analyst, org-admin, admin and
sync of the creating, a granted and a not-granted organisation, and an anonymous caller)
x every marking of ``world.SPECS`` x both collections x every TAXII read endpoint and
``tansiq export --user``.

Each test asserts exactly which (id, version) the caller gets, no more and no less, in
order, with the paging headers of what it got; versions it may not see answer exactly
like versions that do not exist. The data set is built once per module and per default
marking: as it comes out of the box (TLP:AMBER), and changed with ``tansiq settings
default-marking`` to TLP:CLEAR and to TLP:RED.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tansiq.storage.base import StoredVersion
from tests.conftest import Backend

from .support import Caller, can_read, run_cli
from .world import CALLERS, GRANTS, SPECS, World, build_world

DEFAULTS = {"default-amber": None, "default-clear": "TLP:CLEAR", "default-red": "TLP:RED"}


@pytest.fixture(scope="module", params=list(DEFAULTS))
def world(
    request: pytest.FixtureRequest, backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with backend.database(tmp_path_factory.mktemp("matrix")) as database:
        w = build_world(database, DEFAULTS[request.param])
        yield w
        w.close()


PAIRS = [(c, a) for a in GRANTS for c in CALLERS]
READABLE = [(c, a) for c, a in PAIRS if can_read(c, GRANTS[a])]
UNREADABLE = [(c, a) for c, a in PAIRS if not can_read(c, GRANTS[a])]
USERS_READABLE = [(c, a) for c, a in READABLE if c.name is not None]


def pair_id(pair: Any) -> str:
    if isinstance(pair, Caller):
        return pair.label
    return str(pair)


# --------------------------------------------------------------------------- helpers


def keys(world: World, rows: list[StoredVersion]) -> list[str]:
    return [world.key_of(r) for r in rows]


def got_keys(body: dict[str, Any]) -> list[str]:
    return [o.get("x_key", "?") for o in body.get("objects", [])]


def envelope_of(rows: list[StoredVersion], more: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"more": more}
    if rows:
        body["objects"] = [json.loads(r.json) for r in rows]
    return body


def manifest_of(rows: list[StoredVersion], more: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"more": more}
    if rows:
        body["objects"] = [r.manifest_entry() for r in rows]
    return body


def assert_dates(r: httpx.Response, rows: list[StoredVersion]) -> None:
    first = r.headers.get("x-taxii-date-added-first")
    last = r.headers.get("x-taxii-date-added-last")
    if rows:
        assert (first, last) == (rows[0].date_added, rows[-1].date_added)
    else:
        assert (first, last) == (None, None)


def comparable_headers(r: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k not in ("date",)}


def assert_like_missing(
    client: Any, path: str, real: str, params: dict[str, str] | None = None
) -> httpx.Response:
    """GET ``path`` (naming ``real``) answers like the same path naming a fresh id, with
    the id substituted in the body: same status, same body, same headers."""
    fake = f"{real.split('--', 1)[0]}--{uuid.uuid4()}" if "--" in real else str(uuid.uuid4())
    hidden = client.get(path, params)
    missing = client.get(
        path.replace(real, fake), {k: v.replace(real, fake) for k, v in (params or {}).items()}
    )
    assert hidden.status_code == missing.status_code, (path, hidden.text, missing.text)
    assert hidden.text == missing.text.replace(fake, real), (path, hidden.text, missing.text)
    assert comparable_headers(hidden) == comparable_headers(missing)
    return hidden


# --------------------------------------------------------------------------- spot checks


def test_spot_check_anonymous_reader_of_the_public_collection(world: World) -> None:
    """Written out by hand (not from the oracle): what an anonymous caller gets."""
    r = world.client(Caller(None)).get(world.base("pub") + "objects/")
    assert r.status_code == 200, r.text
    clear = {
        "clear@0",
        "tlp1-white@0",
        "chain-four@0",
        "chain-unmarked@1",
        "sco-chain@0",
        "peer-clear@0",
    }
    if world.default == 0:  # unmarked versions are CLEAR
        clear |= {
            "unmarked@0",
            "unmarked-named@0",
            "statement-only@0",
            "sco-unmarked@0",
            "peer-unmarked@0",
        }
        clear = (clear - {"chain-unmarked@1"}) | {"chain-unmarked@2"}
    assert sorted(got_keys(r.json())) == sorted(clear)


def test_spot_check_gamma_reader_of_the_public_collection(world: World) -> None:
    """Gamma is not granted on ``pub``: GREEN and CLEAR, the AMBER it created (through a
    sync account), and the RED naming its reader."""
    r = world.client(Caller("gamma-reader", "gamma", "reader")).get(world.base("pub") + "objects/")
    assert r.status_code == 200, r.text
    expected = {
        "clear@0",
        "tlp1-white@0",
        "chain-four@0",
        "chain-unmarked@1",
        "peer-clear@0",
        "green@0",
        "statement-green@0",
        "chain-green-red@0",
        "chain-red-green@1",
        "sco-green@0",
        "peer-green@0",
        "chain-local-then-peer@0",
        "sco-chain@1",
        "red-named@0",
        "peer-gamma-amber@0",
        "sync-gamma-amber@0",
    }
    if world.default in (0, 1):
        expected |= {
            "unmarked@0",
            "unmarked-named@0",
            "statement-only@0",
            "sco-unmarked@0",
            "peer-unmarked@0",
        }
        expected = (expected - {"chain-unmarked@1"}) | {"chain-unmarked@2"}
    assert sorted(got_keys(r.json())) == sorted(expected)


def test_spot_check_latest_version_per_caller(world: World) -> None:
    """chain-green-red: v1 GREEN, v2 RED naming alpha-reader. A GREEN-only reader gets v1
    as the latest version, the recipient gets v2; match[version]=first likewise."""
    oid = world.ids["chain-green-red"]
    path = world.base("priv") + f"objects/{oid}/"
    beta = world.client(Caller("beta-reader", "beta", "reader"))
    alpha = world.client(Caller("alpha-reader", "alpha", "reader"))
    assert got_keys(beta.get(path).json()) == ["chain-green-red@0"]
    assert got_keys(alpha.get(path).json()) == ["chain-green-red@1"]
    rg = world.base("priv") + f"objects/{world.ids['chain-red-green']}/"
    assert got_keys(beta.get(rg, {"match[version]": "first"}).json()) == ["chain-red-green@1"]
    assert got_keys(
        world.client(Caller("alpha-analyst", "alpha", "analyst"))
        .get(rg, {"match[version]": "first"})
        .json()
    ) == ["chain-red-green@0"]


# --------------------------------------------------------------------------- collections


@pytest.mark.parametrize("caller,alias", UNREADABLE, ids=pair_id)
def test_unreadable_collection_answers_like_a_missing_one(
    world: World, caller: Caller, alias: str
) -> None:
    client = world.client(caller)
    cid = world.colls[alias].id
    oid = world.ids["clear"]
    for suffix, params in [
        ("", None),
        ("objects/", None),
        ("objects/", {"match[id]": oid}),
        ("manifest/", None),
        (f"objects/{oid}/", None),
        (f"objects/{oid}/versions/", None),
    ]:
        r = assert_like_missing(client, world.base(alias) + suffix, cid, params)
        if caller.name is None:
            assert r.status_code == 401
            assert r.headers["www-authenticate"]
        else:
            assert r.status_code == 404
    listing = client.get("/default/collections/")
    if caller.name is not None:
        assert listing.status_code == 200
        assert cid not in listing.text


# --------------------------------------------------------------------------- listings


@pytest.mark.parametrize("mode", [None, "last", "first", "all"])
@pytest.mark.parametrize("caller,alias", READABLE, ids=pair_id)
def test_objects(world: World, caller: Caller, alias: str, mode: str | None) -> None:
    params = {"match[version]": mode} if mode else None
    r = world.client(caller).get(world.base(alias) + "objects/", params)
    assert r.status_code == 200, r.text
    expected = world.pick(caller, alias, mode or "last")
    body = r.json()
    assert got_keys(body) == keys(world, expected)
    assert body == envelope_of(expected)
    assert_dates(r, expected)


@pytest.mark.parametrize("mode", [None, "first", "all"])
@pytest.mark.parametrize("caller,alias", READABLE, ids=pair_id)
def test_manifest(world: World, caller: Caller, alias: str, mode: str | None) -> None:
    params = {"match[version]": mode} if mode else None
    r = world.client(caller).get(world.base(alias) + "manifest/", params)
    assert r.status_code == 200, r.text
    expected = world.pick(caller, alias, mode or "last")
    assert r.json() == manifest_of(expected)
    assert_dates(r, expected)


@pytest.mark.parametrize("caller,alias", READABLE, ids=pair_id)
def test_types_filter_keeps_hidden_versions_out(world: World, caller: Caller, alias: str) -> None:
    client = world.client(caller)
    for stix_type in ("malware", "ipv4-addr"):
        r = client.get(
            world.base(alias) + "objects/", {"match[type]": stix_type, "match[version]": "all"}
        )
        assert r.status_code == 200, r.text
        expected = [row for row in world.visible(caller, alias) if row.type == stix_type]
        assert r.json() == envelope_of(expected)
        assert_dates(r, expected)


# --------------------------------------------------------------------------- one object


@pytest.mark.parametrize("caller,alias", READABLE, ids=pair_id)
def test_object_endpoint(world: World, caller: Caller, alias: str) -> None:
    client = world.client(caller)
    for spec in SPECS:
        oid = world.ids[spec.key]
        path = world.base(alias) + f"objects/{oid}/"
        mine = world.versions_of(caller, alias, oid)
        for mode in (None, "first", "all"):
            params = {"match[version]": mode} if mode else None
            if not mine:
                r = assert_like_missing(client, path, oid, params)
                assert r.status_code == 404, (spec.key, r.text)
                continue
            r = client.get(path, params)
            assert r.status_code == 200, (spec.key, r.text)
            if mode == "all":
                expected = mine
            else:
                chosen = (
                    max(mine, key=lambda v: v.version)
                    if mode is None
                    else min(mine, key=lambda v: v.version)
                )
                expected = [chosen]
            assert got_keys(r.json()) == keys(world, expected), spec.key
            assert r.json() == envelope_of(expected)
            assert_dates(r, expected)


@pytest.mark.parametrize("caller,alias", READABLE, ids=pair_id)
def test_hidden_versions_answer_like_versions_that_never_existed(
    world: World, caller: Caller, alias: str
) -> None:
    client = world.client(caller)
    never = "2001-01-01T00:00:00.000Z"
    for spec in SPECS:
        oid = world.ids[spec.key]
        path = world.base(alias) + f"objects/{oid}/"
        mine = {r.seq for r in world.versions_of(caller, alias, oid)}
        hidden = [r for r in world.rows[alias] if r.id == oid and r.seq not in mine]
        for row in hidden:
            if mine:
                got = client.get(path, {"match[version]": row.version})
                missing = client.get(path, {"match[version]": never})
                assert got.status_code in (200, 404), got.text
                assert (got.status_code, got.text) == (missing.status_code, missing.text), spec.key
                assert comparable_headers(got) == comparable_headers(missing)
            else:
                r = assert_like_missing(client, path, oid, {"match[version]": row.version})
                assert r.status_code == 404


@pytest.mark.parametrize("caller,alias", READABLE, ids=pair_id)
def test_versions_endpoint(world: World, caller: Caller, alias: str) -> None:
    client = world.client(caller)
    for spec in SPECS:
        oid = world.ids[spec.key]
        path = world.base(alias) + f"objects/{oid}/versions/"
        mine = world.versions_of(caller, alias, oid)
        if not mine:
            r = assert_like_missing(client, path, oid)
            assert r.status_code == 404, (spec.key, r.text)
            continue
        r = client.get(path)
        assert r.status_code == 200, r.text
        assert r.json() == {"more": False, "versions": [v.version for v in mine]}, spec.key
        assert_dates(r, mine)


@pytest.mark.parametrize("caller,alias", READABLE, ids=pair_id)
def test_match_id(world: World, caller: Caller, alias: str) -> None:
    """objects/?match[id]= and manifest/?match[id]=: a hidden id answers exactly like an id
    that was never stored (an empty envelope, no date headers)."""
    client = world.client(caller)
    for spec in SPECS:
        oid = world.ids[spec.key]
        for mode in ("last", "all"):
            params = {"match[id]": oid, "match[version]": mode}
            expected = [r for r in world.pick(caller, alias, mode) if r.id == oid]
            for endpoint, shape in (("objects/", envelope_of), ("manifest/", manifest_of)):
                path = world.base(alias) + endpoint
                if not expected:
                    r = assert_like_missing(client, path, oid, params)
                    assert (r.status_code, r.text) == (200, '{"more":false}'), spec.key
                    continue
                r = client.get(path, params)
                assert r.status_code == 200, r.text
                assert r.json() == shape(expected), (spec.key, endpoint, mode)
                assert_dates(r, expected)
    # several ids at once, hidden ones among them
    every = ",".join(world.ids[s.key] for s in SPECS)
    r = client.get(world.base(alias) + "objects/", {"match[id]": every, "match[version]": "all"})
    assert r.json() == envelope_of(world.visible(caller, alias))


# --------------------------------------------------------------------------- paging


@pytest.mark.parametrize("caller,alias", READABLE, ids=pair_id)
def test_paging(world: World, caller: Caller, alias: str) -> None:
    """limit=1..3: every page is full while more is true, the pages together are exactly
    what the caller may see, and the date headers of each page are its own rows'."""
    client = world.client(caller)
    for endpoint, shape in (("objects/", envelope_of), ("manifest/", manifest_of)):
        for mode in ("last", "all"):
            expected = world.pick(caller, alias, mode)
            for limit in (1, 2, 3):
                chunks = [expected[i : i + limit] for i in range(0, len(expected), limit)] or [[]]
                params = {"match[version]": mode, "limit": str(limit)}
                for n, chunk in enumerate(chunks):
                    r = client.get(world.base(alias) + endpoint, params)
                    assert r.status_code == 200, r.text
                    body = r.json()
                    more = n < len(chunks) - 1
                    token = body.pop("next", None)
                    assert body == shape(chunk, more), (endpoint, mode, limit, n)
                    assert (token is not None) == more
                    assert_dates(r, chunk)
                    params = {"match[version]": mode, "limit": str(limit), "next": str(token)}


# --------------------------------------------------------------------------- export


@pytest.mark.parametrize("caller,alias", USERS_READABLE, ids=pair_id)
def test_export_for_a_user(world: World, caller: Caller, alias: str) -> None:
    assert caller.name is not None
    done = run_cli(world.database, "export", "--collection", alias, "--user", caller.name)
    assert done.code == 0, done.err
    assert done.err == ""
    bundle = json.loads(done.out)
    expected = world.visible(caller, alias)
    assert got_keys(bundle) == keys(world, expected)
    assert bundle["objects"] == [json.loads(r.json) for r in expected]


@pytest.mark.parametrize(
    "caller,alias", [(c, a) for c, a in UNREADABLE if c.name is not None], ids=pair_id
)
def test_export_refused_without_read(world: World, caller: Caller, alias: str) -> None:
    assert caller.name is not None
    done = run_cli(world.database, "export", "--collection", alias, "--user", caller.name)
    assert (done.code, done.out) == (1, "")
    assert done.err == f"error: user '{caller.name}' may not read collection '{alias}'\n"
