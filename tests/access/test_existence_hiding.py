"""Existence hiding: a version the caller may not see is indistinguishable from one that
does not exist, on every path: GET object, versions, manifest, objects?match[id], POST of
a colliding id, DELETE, status resources.

"Indistinguishable" is checked literally: the same request naming a fresh id answers with
the same status, the same headers and the same body once the id is substituted.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tansiq.storage.base import Query, StoredVersion, VersionFilter

from .conftest import Site
from .support import TLP_AMBER, TLP_GREEN, TLP_RED, ipv4, malware, stamp


def post(site: Site, user: str, alias: str, objects: list[Any]) -> dict[str, Any]:
    r = site.client(user).post(site.base(alias) + "objects/", objects)
    assert r.status_code == 202, r.text
    status: dict[str, Any] = r.json()
    return status


def stored(site: Site, alias: str, oid: str) -> list[StoredVersion]:
    page = site.store.query(
        Query(site.colls[alias].id, ids=(oid,), versions=VersionFilter(all=True, last=False))
    )
    return page.rows


def fresh_like(oid: str) -> str:
    return f"{oid.split('--', 1)[0]}--{uuid.uuid4()}"


def headers(r: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k != "date"}


def assert_same(hidden: httpx.Response, missing: httpx.Response, real: str, fake: str) -> None:
    assert hidden.status_code == missing.status_code, (hidden.text, missing.text)
    assert hidden.text == missing.text.replace(fake, real), (hidden.text, missing.text)
    assert headers(hidden) == headers(missing)


def unique_ip() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


# --------------------------------------------------------------------------- reads


READ_PATHS = [
    ("objects/{id}/", None),
    ("objects/{id}/", {"match[version]": "all"}),
    ("objects/{id}/versions/", None),
    ("objects/", {"match[id]": "{id}"}),
    ("manifest/", {"match[id]": "{id}", "match[version]": "all"}),
]


@pytest.mark.parametrize(
    "viewer,alias,marking",
    [
        ("bob", "shared", TLP_RED),  # granted, not a recipient
        ("root", "shared", TLP_RED),  # admin, not a recipient
        ("amy", "shared", TLP_RED),  # same organisation as the writer, not a recipient
        ("bsync", "shared", TLP_RED),  # sync account
        ("bob", "pub", TLP_AMBER),  # public collection, not granted, not the creator
        ("gus", "pub", TLP_AMBER),
        (None, "pub", TLP_GREEN),  # anonymous reader of a public collection
    ],
)
def test_hidden_object_reads_like_a_missing_one(
    shared_site: Site, viewer: str | None, alias: str, marking: str
) -> None:
    obj = malware(markings=[marking])
    assert post(shared_site, "alice", alias, [obj])["success_count"] == 1
    client = shared_site.client(viewer)
    fake = fresh_like(obj["id"])
    for template, params in READ_PATHS:
        path = shared_site.base(alias) + template.format(id=obj["id"])
        p = {k: v.format(id=obj["id"]) for k, v in (params or {}).items()}
        hidden = client.get(path, p)
        missing = client.get(
            path.replace(obj["id"], fake), {k: v.replace(obj["id"], fake) for k, v in p.items()}
        )
        assert_same(hidden, missing, obj["id"], fake)
        assert hidden.status_code in (200, 404)
    # and the writer does see it (the test is not vacuous)
    assert (
        shared_site.client("alice")
        .get(shared_site.base(alias) + f"objects/{obj['id']}/")
        .status_code
        == 200
    )


# --------------------------------------------------------------------------- POST collisions


def test_identical_sco_hidden_from_the_poster_is_added_as_its_own(shared_site: Site) -> None:
    sco = ipv4(unique_ip(), markings=[TLP_RED])
    first = post(shared_site, "alice", "shared", [sco])
    assert first["success_count"] == 1
    alice_row = stored(shared_site, "shared", sco["id"])[0]

    status = post(shared_site, "bob", "shared", [sco])
    assert status["success_count"] == 1
    assert status["successes"][0].keys() == {"id", "version"}, status  # no "already stored"
    assert status["successes"][0]["version"] != alice_row.version
    rows = stored(shared_site, "shared", sco["id"])
    assert len(rows) == 2
    assert rows[0] == alice_row  # the hidden copy is not altered
    bob = shared_site.store.get_user("bob")
    assert bob is not None and rows[1].writer_user_id == bob.id
    got = shared_site.client("bob").get(
        shared_site.base("shared") + f"objects/{sco['id']}/versions/"
    )
    assert got.json() == {"more": False, "versions": [rows[1].version]}
    # posting it again is now "unchanged": bob's own copy
    again = post(shared_site, "bob", "shared", [sco])
    assert again["successes"] == [
        {
            "id": sco["id"],
            "version": rows[1].version,
            "message": "already stored (identical version)",
        }
    ]


def test_identical_sco_hidden_from_a_colleague_is_added_as_its_own(shared_site: Site) -> None:
    """amy (org-admin of Alpha) is not a recipient of alice's TLP:RED SCO: the same
    organisation does not make the RED copy visible, so her identical post must be a new
    version of her own, not "unchanged" (that would reveal the hidden one)."""
    sco = ipv4(unique_ip(), markings=[TLP_RED])
    post(shared_site, "alice", "shared", [sco])
    alice_row = stored(shared_site, "shared", sco["id"])[0]
    path = shared_site.base("shared") + f"objects/{sco['id']}/"
    assert shared_site.client("amy").get(path).status_code == 404  # hidden from amy

    status = post(shared_site, "amy", "shared", [sco])
    assert status["success_count"] == 1
    assert status["successes"][0].keys() == {"id", "version"}, json.dumps(status)
    assert status["successes"][0]["version"] != alice_row.version, json.dumps(status)
    rows = stored(shared_site, "shared", sco["id"])
    assert rows[0] == alice_row
    assert len(rows) == 2


def test_identical_sco_in_a_drop_box_is_added_for_each_organisation(shared_site: Site) -> None:
    sco = ipv4(unique_ip(), markings=[TLP_AMBER])
    post(shared_site, "alice", "drop", [sco])
    alice_row = stored(shared_site, "drop", sco["id"])[0]
    status = post(shared_site, "bob", "drop", [sco])
    assert status["successes"][0].keys() == {"id", "version"}, json.dumps(status)
    rows = stored(shared_site, "drop", sco["id"])
    assert len(rows) == 2 and rows[0] == alice_row


def test_sdo_colliding_with_a_hidden_version_is_added_never_conflict(shared_site: Site) -> None:
    red = malware(markings=[TLP_RED])
    post(shared_site, "alice", "shared", [red])
    alice_row = stored(shared_site, "shared", red["id"])[0]
    same_version = {**red, "name": "Beta's view", "object_marking_refs": [TLP_GREEN]}
    status = post(shared_site, "bob", "shared", [same_version])
    assert status.get("successes") == [{"id": red["id"], "version": red["modified"]}], json.dumps(
        status
    )
    rows = stored(shared_site, "shared", red["id"])
    assert rows[0] == alice_row
    assert [json.loads(r.json)["name"] for r in rows] == ["dropper", "Beta's view"]
    assert shared_site.store.list_conflicts() == [] or all(
        c["object_id"] != red["id"] for c in shared_site.store.list_conflicts()
    )


def test_sdo_colliding_with_a_colleagues_hidden_version_is_added_never_conflict(
    shared_site: Site,
) -> None:
    """Same organisation, not a recipient: alice's TLP:RED version does not exist for amy,
    so amy's different body under the same (id, modified) is not a "conflict"."""
    red = malware(markings=[TLP_RED])
    post(shared_site, "alice", "shared", [red])
    alice_row = stored(shared_site, "shared", red["id"])[0]
    theirs = {**red, "name": "amy's view", "object_marking_refs": [TLP_GREEN]}
    status = post(shared_site, "amy", "shared", [theirs])
    assert status.get("successes") == [{"id": red["id"], "version": red["modified"]}], json.dumps(
        status
    )
    rows = stored(shared_site, "shared", red["id"])
    assert rows[0] == alice_row
    assert len(rows) == 2


def test_visible_collision_is_unchanged_or_conflict(shared_site: Site) -> None:
    """The contrast: what the poster can see does count."""
    obj = malware(markings=[TLP_GREEN])
    post(shared_site, "alice", "shared", [obj])
    again = post(shared_site, "alice", "shared", [obj])
    assert again["successes"][0]["message"] == "already stored (identical version)"
    changed = {**obj, "name": "other body, same version"}
    status = post(shared_site, "alice", "shared", [changed])
    assert status["failure_count"] == 1
    assert len(stored(shared_site, "shared", obj["id"])) == 1


# --------------------------------------------------------------------------- DELETE


def test_delete_hidden_is_404_like_missing(shared_site: Site) -> None:
    red = malware(markings=[TLP_RED])
    post(shared_site, "alice", "shared", [red])
    before = stored(shared_site, "shared", red["id"])
    for user in ("bob", "amy", "root"):
        client = shared_site.client(user)
        fake = fresh_like(red["id"])
        path = shared_site.base("shared") + f"objects/{red['id']}/"
        hidden = client.delete(path)
        missing = client.delete(path.replace(red["id"], fake))
        assert_same(hidden, missing, red["id"], fake)
        assert hidden.status_code == 404, (user, hidden.text)
    assert stored(shared_site, "shared", red["id"]) == before


def test_delete_visible_object_of_another_organisation_is_403(shared_site: Site) -> None:
    obj = malware(markings=[TLP_GREEN])
    post(shared_site, "alice", "shared", [obj])
    r = shared_site.client("bob").delete(shared_site.base("shared") + f"objects/{obj['id']}/")
    assert r.status_code == 403, r.text
    assert r.json()["http_status"] == "403"
    assert len(stored(shared_site, "shared", obj["id"])) == 1


def test_delete_by_the_creating_organisation_and_by_an_admin(shared_site: Site) -> None:
    a = malware(markings=[TLP_GREEN])
    b = malware(markings=[TLP_GREEN])
    post(shared_site, "alice", "shared", [a])
    post(shared_site, "bob", "shared", [b])
    r = shared_site.client("amy").delete(shared_site.base("shared") + f"objects/{a['id']}/")
    assert r.status_code == 200, r.text
    assert stored(shared_site, "shared", a["id"]) == []
    r = shared_site.client("root").delete(shared_site.base("shared") + f"objects/{b['id']}/")
    assert r.status_code == 200, r.text
    assert stored(shared_site, "shared", b["id"]) == []


def test_delete_leaves_the_versions_the_caller_cannot_see(shared_site: Site) -> None:
    v1 = malware(markings=[TLP_GREEN])
    v2 = {**v1, "modified": stamp(60), "object_marking_refs": [TLP_RED]}
    post(shared_site, "alice", "shared", [v1, v2])
    r = shared_site.client("amy").delete(
        shared_site.base("shared") + f"objects/{v1['id']}/", {"match[version]": "all"}
    )
    assert r.status_code == 200, r.text
    rows = stored(shared_site, "shared", v1["id"])
    assert [row.version for row in rows] == [v2["modified"]]
    got = shared_site.client("alice").get(
        shared_site.base("shared") + f"objects/{v1['id']}/versions/"
    )
    assert got.json() == {"more": False, "versions": [v2["modified"]]}


@pytest.mark.parametrize("user,alias", [("rita", "shared"), ("bob", "drop"), (None, "pub")])
def test_delete_without_the_rights_answers_the_same_for_hidden_and_missing(
    shared_site: Site, user: str | None, alias: str
) -> None:
    obj = malware(markings=[TLP_RED])
    post(shared_site, "alice", alias, [obj])
    client = shared_site.client(user)
    fake = fresh_like(obj["id"])
    path = shared_site.base(alias) + f"objects/{obj['id']}/"
    hidden = client.delete(path)
    missing = client.delete(path.replace(obj["id"], fake))
    assert_same(hidden, missing, obj["id"], fake)
    assert hidden.status_code in (401, 403, 404)
    assert len(stored(shared_site, alias, obj["id"])) == 1


# --------------------------------------------------------------------------- status resources


@pytest.mark.parametrize("viewer", ["bob", "amy", "rita"])
def test_status_of_another_user_is_404(shared_site: Site, viewer: str) -> None:
    status = post(shared_site, "alice", "shared", [malware(markings=[TLP_RED])])
    client = shared_site.client(viewer)
    fake = str(uuid.uuid4())
    hidden = client.get(f"/default/status/{status['id']}/")
    missing = client.get(f"/default/status/{fake}/")
    assert_same(hidden, missing, status["id"], fake)
    assert hidden.status_code == 404
    mine = shared_site.client("alice").get(f"/default/status/{status['id']}/")
    assert mine.status_code == 200 and mine.json() == status


def test_status_of_a_red_write_is_hidden_from_an_admin_who_is_not_a_recipient(
    shared_site: Site,
) -> None:
    """The status lists the id and version of alice's TLP:RED object: an admin who is not
    a recipient may not learn that it exists."""
    red = malware(markings=[TLP_RED])
    status = post(shared_site, "alice", "shared", [red])
    assert (
        shared_site.client("root")
        .get(shared_site.base("shared") + f"objects/{red['id']}/")
        .status_code
        == 404
    )
    fake = str(uuid.uuid4())
    hidden = shared_site.client("root").get(f"/default/status/{status['id']}/")
    missing = shared_site.client("root").get(f"/default/status/{fake}/")
    assert_same(hidden, missing, status["id"], fake)


def test_status_needs_credentials(shared_site: Site) -> None:
    status = post(shared_site, "alice", "shared", [malware(markings=[TLP_GREEN])])
    anon = shared_site.client(None)
    fake = str(uuid.uuid4())
    hidden = anon.get(f"/default/status/{status['id']}/")
    missing = anon.get(f"/default/status/{fake}/")
    assert_same(hidden, missing, status["id"], fake)
    assert hidden.status_code == 401
