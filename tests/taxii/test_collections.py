"""Collections (TAXII 2.1 section 5.1) and one collection (section 5.2)."""

from __future__ import annotations

import uuid

import pytest

from .conftest import ApiFactory
from .support import STIX, UUID4, Api, World, assert_error, assert_taxii_type

TITLES = {
    "shared": "Shared intel",
    "alpha-only": "Alpha only",
    "write-only": "Drop box",
    "public": "Public feed",
    "other-root": "In second root",
}

# what each caller sees in the default API root: alias -> (can_read, can_write), in order
VISIBLE = {
    "alice": [
        ("shared", True, True),
        ("alpha-only", True, True),
        ("write-only", False, True),
        ("public", True, True),
    ],
    "rita": [("shared", True, False), ("alpha-only", True, False), ("public", True, False)],
    "bob": [("shared", True, False), ("public", True, False)],
    "root": [
        ("shared", True, True),
        ("alpha-only", True, True),
        ("write-only", True, True),
        ("public", True, True),
    ],
    None: [("public", True, False)],
}


def resource(world: World, alias: str, can_read: bool, can_write: bool) -> dict[str, object]:
    cid = world.collections[alias]
    stored = world.store.get_collection(cid)
    assert stored is not None
    return {
        "id": cid,
        "title": TITLES[alias],
        "alias": stored.alias,
        "can_read": can_read,
        "can_write": can_write,
        "media_types": [STIX],
    }


@pytest.mark.parametrize("user", ["alice", "rita", "bob", "root", None])
def test_collections_show_exactly_what_the_caller_may_use(
    papi: ApiFactory, pristine: World, user: str | None
) -> None:
    client = papi(user)
    r = client.get("/default/collections/")
    assert r.status_code == 200
    assert_taxii_type(r)
    expected = [resource(pristine, a, cr, cw) for a, cr, cw in VISIBLE[user]]
    assert r.json() == {"collections": expected}
    # section 3.3: a consistent sort order across requests
    assert client.get("/default/collections/").json() == {"collections": expected}


def test_collections_with_basic_auth_match_bearer(api: ApiFactory) -> None:
    bearer = api("alice").get("/default/collections/").json()
    basic = api("alice", scheme="basic").get("/default/collections/").json()
    assert bearer == basic


def test_collection_ids_are_uuid4(alice: Api) -> None:
    for c in alice.get("/default/collections/").json()["collections"]:
        assert UUID4.match(c["id"]), c["id"]


def test_second_root_collections(papi: ApiFactory, pristine: World) -> None:
    r = papi("alice").get("/second/collections/")
    assert r.status_code == 200
    assert r.json() == {"collections": [resource(pristine, "other-root", True, True)]}


def test_empty_collections_resource_omits_the_key(papi: ApiFactory) -> None:
    # section 5.1.1: no collections -> the key is omitted and the response is an empty object
    r = papi("bob").get("/second/collections/")
    assert r.status_code == 200
    assert_taxii_type(r)
    assert r.json() == {}


@pytest.mark.parametrize(
    ("user", "alias", "can_read", "can_write"),
    [
        ("alice", "shared", True, True),
        ("alice", "write-only", False, True),
        ("bob", "shared", True, False),
        ("rita", "alpha-only", True, False),
        ("root", "write-only", True, True),
        (None, "public", True, False),
    ],
)
def test_get_one_collection(
    api: ApiFactory,
    world: World,
    user: str | None,
    alias: str,
    can_read: bool,
    can_write: bool,
) -> None:
    client = api(user)
    r = client.get(client.coll(alias))
    assert r.status_code == 200
    assert_taxii_type(r)
    assert r.json() == resource(world, alias, can_read, can_write)


@pytest.mark.parametrize(
    ("user", "alias"), [("bob", "alpha-only"), ("bob", "write-only"), ("rita", "write-only")]
)
def test_collection_not_granted_at_all_is_404(api: ApiFactory, user: str, alias: str) -> None:
    client = api(user)
    assert_error(client.get(client.coll(alias)), 404)


def test_unknown_collection_is_404(alice: Api) -> None:
    assert_error(alice.get(f"/default/collections/{uuid.uuid4()}/"), 404)


def test_collection_in_another_api_root_is_404(alice: Api, world: World) -> None:
    assert_error(alice.get(f"/second/collections/{world.collections['shared']}/"), 404)
    assert_error(alice.get(f"/default/collections/{world.collections['other-root']}/"), 404)


def test_hidden_and_unknown_collections_answer_identically(bob: Api) -> None:
    hidden = bob.get(bob.coll("alpha-only"))
    unknown = bob.get(f"/default/collections/{uuid.uuid4()}/")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["title"] == unknown.json()["title"]


def test_anonymous_non_public_collection_is_401(anon: Api) -> None:
    r = anon.get(anon.coll("shared"))
    assert_error(r, 401)
    assert r.headers.get("www-authenticate")
