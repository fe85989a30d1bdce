"""Authentication (TAXII 2.1 section 1.6.9): Basic and Bearer, 401 with WWW-Authenticate,
and anonymous access limited to public collections."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable

import httpx
import pytest

from tansiq.access import admin
from tests.conftest import PASSWORD

from .conftest import Api, ApiFactory
from .support import (
    TAXII,
    TLP_CLEAR,
    World,
    assert_error,
    basic,
    envelope,
    sdo,
)


def challenges(header: str) -> set[str]:
    """Auth schemes named in a WWW-Authenticate header (RFC 7235 section 4.1)."""
    schemes = set()
    for part in header.split(","):
        token = part.strip().split(" ", 1)[0]
        if token and "=" not in token:
            schemes.add(token.lower())
    return schemes


def assert_401(r: httpx.Response) -> None:
    assert_error(r, 401)
    header = r.headers.get("www-authenticate")
    assert header, "401 without WWW-Authenticate"
    assert "basic" in challenges(header), header  # Basic: the scheme TAXII suggests


# --------------------------------------------------------------------------- good credentials


@pytest.mark.parametrize(
    "authorization",
    [
        lambda w: f"Bearer {w.tokens['alice']}",
        lambda w: f"bearer {w.tokens['alice']}",  # RFC 7235: schemes are case-insensitive
        lambda w: basic("alice"),
        lambda w: "BASIC " + basic("alice").split()[1],
        lambda w: f"Token {w.tokens['alice']}",  # what taxii2-client's TokenAuth sends
    ],
    ids=["Bearer", "bearer", "Basic", "BASIC", "Token"],
)
def test_good_credentials(
    api: ApiFactory, world: World, authorization: Callable[[World], str]
) -> None:
    client = api(None, authorization=authorization(world))
    r = client.get(client.objects_path("alpha-only"))
    assert r.status_code == 200


def test_basic_and_bearer_are_the_same_principal(api: ApiFactory) -> None:
    by_basic = api("alice", scheme="basic")
    by_token = api("alice")
    status = by_basic.add("shared", [sdo("malware")])
    assert by_token.get(f"/default/status/{status['id']}/").status_code == 200


def test_a_newly_issued_token_works(api: ApiFactory, world: World) -> None:
    plain, _ = admin.issue_token(world.store, "bob", label="second")
    client = api(None, authorization=f"Bearer {plain}")
    assert client.get(client.objects_path("shared")).status_code == 200


# --------------------------------------------------------------------------- bad credentials


BAD = {
    "wrong password": lambda w: basic("alice", "not the password at all"),
    "unknown user": lambda w: basic("mallory", PASSWORD),
    "other user's password": lambda w: basic("bob", "x" + PASSWORD),
    "no colon": lambda w: "Basic " + base64.b64encode(b"alice").decode(),
    "not base64": lambda w: "Basic !!!not-base64!!!",
    "empty basic": lambda w: "Basic",
    "wrong token": lambda w: "Bearer tsq_" + "A" * 43,
    "token of other shape": lambda w: f"Bearer {w.tokens['alice']}x",
    "empty bearer": lambda w: "Bearer",
    "wrong token, token scheme": lambda w: "Token tsq_" + "A" * 43,
    "digest": lambda w: 'Digest username="alice"',
    "no scheme": lambda w: w.tokens["alice"],
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_credentials_are_401_everywhere(api: ApiFactory, world: World, case: str) -> None:
    client = api(None, authorization=BAD[case](world))
    for path in (
        "/taxii2/",
        client.objects_path("public"),  # bad credentials do not fall back to anonymous
        client.objects_path("shared"),
        f"/default/status/{uuid.uuid4()}/",
    ):
        assert_401(client.get(path))
    assert_401(client.post(client.objects_path("shared"), envelope([sdo()])))


def test_expired_token_is_401(api: ApiFactory, world: World) -> None:
    plain, _ = admin.issue_token(
        world.store, "alice", expires="2001-01-01T00:00:00.000000Z", label="old"
    )
    client = api(None, authorization=f"Bearer {plain}")
    assert_401(client.get(client.objects_path("shared")))


# --------------------------------------------------------------------------- anonymous


def test_anonymous_reads_every_resource_of_a_public_collection(alice: Api, anon: Api) -> None:
    obj = sdo("indicator", marking=TLP_CLEAR)
    alice.add("public", [obj])
    for path in (
        "/taxii2/",
        "/default/",
        "/default/collections/",
        anon.coll("public"),
        anon.objects_path("public"),
        anon.manifest_path("public"),
        anon.object_path("public", obj["id"]),
        anon.versions_path("public", obj["id"]),
    ):
        r = anon.get(path)
        assert r.status_code == 200, (path, r.text)
    assert anon.objects("public") == [obj]
    assert anon.get(anon.coll("public")).json()["can_write"] is False


def test_anonymous_sees_only_the_public_collection(papi: ApiFactory, pristine: World) -> None:
    r = papi(None).get("/default/collections/")
    assert r.status_code == 200
    assert [c["id"] for c in r.json()["collections"]] == [pristine.collections["public"]]


def test_anonymous_writes_are_401(alice: Api, anon: Api, root: Api) -> None:
    obj = sdo("indicator", marking=TLP_CLEAR)
    alice.add("public", [obj])
    assert_401(anon.post_objects("public", [sdo("malware", marking=TLP_CLEAR)]))
    assert_401(anon.delete(anon.object_path("public", obj["id"])))
    assert root.objects("public") == [obj]


@pytest.mark.parametrize("alias", ["shared", "alpha-only", "write-only", "other-root"])
def test_anonymous_on_a_non_public_collection_is_401(alice: Api, anon: Api, alias: str) -> None:
    obj = sdo("malware")
    alice.add(alias, [obj])
    for path in (
        anon.coll(alias),
        anon.objects_path(alias),
        anon.manifest_path(alias),
        anon.object_path(alias, obj["id"]),
        anon.versions_path(alias, obj["id"]),
    ):
        assert_401(anon.get(path))
    assert_401(anon.post_objects(alias, [sdo()]))
    assert_401(anon.delete(anon.object_path(alias, obj["id"])))


def test_anonymous_status_is_401(alice: Api, anon: Api) -> None:
    status = alice.add("public", [sdo("indicator", marking=TLP_CLEAR)])
    assert_401(anon.get(f"/default/status/{status['id']}/"))


def test_anonymous_unknown_collection_is_401(anon: Api) -> None:
    assert_401(anon.get(f"/default/collections/{uuid.uuid4()}/objects/"))


def test_www_authenticate_offers_bearer_too(anon: Api) -> None:
    r = anon.get(anon.objects_path("shared"))
    assert_401(r)
    assert challenges(r.headers["www-authenticate"]) == {"basic", "bearer"}


def test_accept_is_checked_for_anonymous_callers_too(anon: Api) -> None:
    r = anon.get(anon.objects_path("public"), headers={"Accept": "application/xml"})
    assert_error(r, 406)
    r = anon.get(anon.objects_path("public"), headers={"Accept": TAXII})
    assert r.status_code == 200
