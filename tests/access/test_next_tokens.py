"""``next`` tokens: bound to the caller and the query. A tampered token, another caller's
token or a token used with another query is refused with 400, always with the same body
(which case it was is not revealed); a token replayed by its own caller on its own query
gives the same page again."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from .support import Caller
from .world import World

ALPHA = Caller("alpha-reader", "alpha", "reader")
BETA = Caller("beta-reader", "beta", "reader")
ALPHA2 = Caller("alpha-analyst", "alpha", "analyst")
ANON = Caller(None)

PARAMS = {"limit": "2", "match[version]": "all"}


def first_page(
    world: World, caller: Caller, alias: str, endpoint: str = "objects/", **extra: str
) -> dict[str, Any]:
    r = world.client(caller).get(world.base(alias) + endpoint, {**PARAMS, **extra})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["more"] is True and body["next"], body
    return body


def follow(
    world: World, caller: Caller, alias: str, token: str, endpoint: str = "objects/", **extra: str
) -> httpx.Response:
    return world.client(caller).get(
        world.base(alias) + endpoint, {**PARAMS, **extra, "next": token}
    )


def refused(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 400, r.text
    body: dict[str, Any] = r.json()
    assert body["title"] == "Bad request" and body["http_status"] == "400", body
    return body


@pytest.fixture(scope="module")
def bad_body(amber_world: World) -> dict[str, Any]:
    """The body of one refusal, to compare every other refusal with."""
    return refused(follow(amber_world, ALPHA, "priv", "not-a-token"))


def test_a_token_continues_its_own_query(amber_world: World) -> None:
    page1 = first_page(amber_world, ALPHA, "priv")
    r = follow(amber_world, ALPHA, "priv", page1["next"])
    assert r.status_code == 200, r.text
    page2 = r.json()
    ids1 = [(o["id"], o.get("modified")) for o in page1["objects"]]
    ids2 = [(o["id"], o.get("modified")) for o in page2["objects"]]
    assert len(ids2) == 2 and not set(ids1) & set(ids2)
    expected = amber_world.visible(ALPHA, "priv")[2:4]
    assert [o["x_key"] for o in page2["objects"]] == [amber_world.key_of(v) for v in expected]
    # replayed by its own caller: the same page again
    again = follow(amber_world, ALPHA, "priv", page1["next"])
    assert again.status_code == 200
    assert again.json() == page2


def _mutations(token: str) -> list[str]:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    payload, mac = raw[:-16], raw[-16:]
    out = [
        token[:-1],
        token[:-4],
        token + "A",
        token[1:],
        "",
        "====",
        "%%%",
        "A" * len(token),
        base64.urlsafe_b64encode(bytes(range(64))).decode(),
    ]
    for i in (0, len(token) // 3, len(token) // 2, len(token) - 2):
        c = token[i]
        out.append(token[:i] + ("B" if c != "B" else "C") + token[i + 1 :])
    # a payload moved to another position, keeping the MAC
    try:
        items = json.loads(payload)
        items[-1] = int(items[-1]) + 5
        moved = json.dumps(items, separators=(",", ":")).encode()
        out.append(base64.urlsafe_b64encode(moved + mac).decode().rstrip("="))
        items[-1] = 0
        out.append(base64.urlsafe_b64encode(json.dumps(items).encode() + mac).decode().rstrip("="))
    except ValueError:
        pass
    # the MAC dropped, or replaced by zeros
    out.append(base64.urlsafe_b64encode(payload).decode().rstrip("="))
    out.append(base64.urlsafe_b64encode(payload + b"\0" * 16).decode().rstrip("="))
    return out


def test_tampered_tokens_are_refused_alike(amber_world: World, bad_body: dict[str, Any]) -> None:
    token = first_page(amber_world, ALPHA, "priv")["next"]
    for bad in _mutations(token):
        if bad == token:
            continue
        r = follow(amber_world, ALPHA, "priv", bad)
        assert refused(r) == bad_body, bad


@pytest.mark.parametrize(
    "owner,user,alias",
    [
        (BETA, ALPHA, "priv"),  # another organisation
        (ALPHA2, ALPHA, "priv"),  # a colleague
        (ALPHA, ALPHA2, "priv"),
        (ANON, BETA, "pub"),  # an anonymous caller's token, by a user
        (BETA, ANON, "pub"),  # a user's token, anonymously
    ],
    ids=lambda c: c.label if isinstance(c, Caller) else str(c),
)
def test_another_callers_token_is_refused(
    amber_world: World, bad_body: dict[str, Any], owner: Caller, user: Caller, alias: str
) -> None:
    token = first_page(amber_world, owner, alias)["next"]
    assert refused(follow(amber_world, user, alias, token)) == bad_body
    # still good for its owner
    assert follow(amber_world, owner, alias, token).status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        {"match[type]": "malware"},
        {"match[version]": "last"},
        {"added_after": "2000-01-01T00:00:00.000Z"},
        {"match[spec_version]": "2.1"},
        {"match[id]": "malware--00000000-0000-4000-8000-000000000000"},
        {"endpoint": "manifest/"},
        {"alias": "pub"},
    ],
    ids=lambda d: next(iter(d)),
)
def test_a_token_used_with_another_query_is_refused(
    amber_world: World, bad_body: dict[str, Any], change: dict[str, str]
) -> None:
    token = first_page(amber_world, BETA, "priv")["next"]
    params = dict(change)
    endpoint = params.pop("endpoint", "objects/")
    alias = params.pop("alias", "priv")
    extra = {"match[version]": params.pop("match[version]")} if "match[version]" in params else {}
    r = amber_world.client(BETA).get(
        amber_world.base(alias) + endpoint, {**PARAMS, **extra, **params, "next": token}
    )
    assert refused(r) == bad_body


def test_a_manifest_token_is_refused_on_objects(
    amber_world: World, bad_body: dict[str, Any]
) -> None:
    token = first_page(amber_world, BETA, "priv", "manifest/")["next"]
    assert refused(follow(amber_world, BETA, "priv", token, "objects/")) == bad_body
    assert follow(amber_world, BETA, "priv", token, "manifest/").status_code == 200


def test_an_object_versions_token_is_bound_to_its_object(
    amber_world: World, bad_body: dict[str, Any]
) -> None:
    oid = amber_world.ids["chain-four"]
    other = amber_world.ids["chain-unmarked"]
    admin = Caller("alpha-admin", "alpha", "admin")
    client = amber_world.client(admin)
    base = amber_world.base("priv")
    r = client.get(base + f"objects/{oid}/versions/", {"limit": "1"})
    assert r.status_code == 200, r.text
    token = r.json()["next"]
    refused_other = client.get(base + f"objects/{other}/versions/", {"limit": "1", "next": token})
    assert refused(refused_other) == bad_body
    refused_object = client.get(base + f"objects/{oid}/", {"limit": "1", "next": token})
    assert refused(refused_object) == bad_body
    assert (
        client.get(base + f"objects/{oid}/versions/", {"limit": "1", "next": token}).status_code
        == 200
    )
