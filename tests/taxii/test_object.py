"""Get an object (TAXII 2.1 section 5.6) and delete an object (section 5.7)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api, ApiFactory
from .support import (
    TAXII,
    TLP_CLEAR,
    assert_date_headers,
    assert_error,
    assert_taxii_type,
    ipv4,
    sdo,
    sid,
    version_of,
)


def three_versions(alice: Api, alias: str = "shared") -> list[dict[str, Any]]:
    v1 = sdo("malware", name="v1")
    v2 = version_of(v1, 60, name="v2")
    v3 = version_of(v1, 120, name="v3")
    alice.add(alias, [v1])
    alice.add(alias, [v2, sdo("indicator")])
    alice.add(alias, [v3])
    return [v1, v2, v3]


def records(alice: Api, object_id: str, alias: str = "shared") -> list[dict[str, Any]]:
    return alice.manifest(alias, {"match[id]": object_id, "match[version]": "all"})


# --------------------------------------------------------------------------- GET


def test_get_object_returns_latest_version_in_an_envelope(alice: Api) -> None:
    versions = three_versions(alice)
    oid = versions[0]["id"]
    r = alice.get(alice.object_path("shared", oid))
    assert r.status_code == 200
    assert_taxii_type(r)
    assert r.json() == {"more": False, "objects": [versions[2]]}
    last = records(alice, oid)[-1]["date_added"]
    assert_date_headers(r, last, last)


@pytest.mark.parametrize(
    ("match", "picked"),
    [
        ("last", [2]),
        ("first", [0]),
        ("all", [0, 1, 2]),
        ("first,last", [0, 2]),
        ("last,first", [0, 2]),
        ("EXACT1", [1]),
        ("EXACT0,EXACT2", [0, 2]),
        ("first,EXACT1,last", [0, 1, 2]),
        ("EXACT1,last", [1, 2]),
    ],
)
def test_get_object_version_filters(alice: Api, match: str, picked: list[int]) -> None:
    versions = three_versions(alice)
    oid = versions[0]["id"]
    for i, v in enumerate(versions):
        match = match.replace(f"EXACT{i}", v["modified"])
    r = alice.get(alice.object_path("shared", oid), {"match[version]": match})
    assert r.status_code == 200
    assert r.json()["objects"] == [versions[i] for i in picked]
    dates = {rec["version"]: rec["date_added"] for rec in records(alice, oid)}
    assert_date_headers(
        r, dates[versions[picked[0]]["modified"]], dates[versions[picked[-1]]["modified"]]
    )


def test_get_object_pages_through_versions(alice: Api) -> None:
    versions = three_versions(alice)
    path = alice.object_path("shared", versions[0]["id"])
    seen: list[dict[str, Any]] = []
    pages = list(alice.pages(path, {"match[version]": "all", "limit": "1"}))
    assert len(pages) == 3
    for page in pages:
        body = page.json()
        assert len(body["objects"]) == 1
        seen.extend(body["objects"])
    assert [p.json()["more"] for p in pages] == [True, True, False]
    assert seen == versions


def test_get_object_added_after(alice: Api) -> None:
    versions = three_versions(alice)
    oid = versions[0]["id"]
    recs = records(alice, oid)
    r = alice.get(
        alice.object_path("shared", oid),
        {"match[version]": "all", "added_after": recs[0]["date_added"]},
    )
    assert r.json()["objects"] == versions[1:]
    assert_date_headers(r, recs[1]["date_added"], recs[2]["date_added"])


def test_get_sco(alice: Api) -> None:
    obj = ipv4("192.0.2.80")
    alice.add("shared", [obj])
    r = alice.get(alice.object_path("shared", obj["id"]))
    assert r.status_code == 200
    assert r.json()["objects"] == [obj]


def test_unknown_object_is_404(alice: Api) -> None:
    alice.add("shared", [sdo("malware")])
    assert_error(alice.get(alice.object_path("shared", sid("malware"))), 404)


def test_malformed_object_id_is_404(alice: Api) -> None:
    assert_error(alice.get(alice.object_path("shared", "not-an-id")), 404)


def test_object_of_another_collection_is_404(alice: Api) -> None:
    obj = sdo("malware")
    alice.add("alpha-only", [obj])
    assert_error(alice.get(alice.object_path("shared", obj["id"])), 404)
    assert_error(alice.get(alice.versions_path("shared", obj["id"])), 404)


def test_object_in_collection_not_granted_is_404(alice: Api, bob: Api) -> None:
    obj = sdo("malware")
    alice.add("alpha-only", [obj])
    hidden = bob.get(bob.object_path("alpha-only", obj["id"]))
    unknown = bob.get(bob.object_path("shared", sid("malware")))
    assert_error(hidden, 404)
    assert_error(unknown, 404)
    assert hidden.json()["title"] == unknown.json()["title"]


def test_object_in_write_only_collection_is_403(alice: Api) -> None:
    obj = sdo("malware")
    alice.add("write-only", [obj])
    assert_error(alice.get(alice.object_path("write-only", obj["id"])), 403)
    assert_error(alice.get(alice.versions_path("write-only", obj["id"])), 403)


# --------------------------------------------------------------------------- DELETE


def test_delete_object_removes_every_version(alice: Api) -> None:
    versions = three_versions(alice)
    oid = versions[0]["id"]
    other = alice.objects("shared")[0]
    r = alice.delete(alice.object_path("shared", oid))
    assert r.status_code == 200
    assert_taxii_type(r)
    # section 5.7: later fetches are 404 and the manifest no longer lists it
    assert_error(alice.get(alice.object_path("shared", oid)), 404)
    assert_error(alice.get(alice.versions_path("shared", oid)), 404)
    assert records(alice, oid) == []
    assert alice.objects("shared", {"match[version]": "all"}) == [other]
    assert_error(alice.delete(alice.object_path("shared", oid)), 404)


def test_delete_first_version_only(alice: Api) -> None:
    v1, v2, v3 = three_versions(alice)
    r = alice.delete(alice.object_path("shared", v1["id"]), {"match[version]": "first"})
    assert r.status_code == 200
    got = alice.get(alice.object_path("shared", v1["id"]), {"match[version]": "all"})
    assert got.json()["objects"] == [v2, v3]
    first = alice.get(alice.object_path("shared", v1["id"]), {"match[version]": "first"})
    assert first.json()["objects"] == [v2]


def test_delete_exact_version(alice: Api) -> None:
    v1, v2, v3 = three_versions(alice)
    r = alice.delete(alice.object_path("shared", v1["id"]), {"match[version]": v2["modified"]})
    assert r.status_code == 200
    got = alice.get(alice.object_path("shared", v1["id"]), {"match[version]": "all"})
    assert got.json()["objects"] == [v1, v3]


def test_deleted_version_is_404_afterwards(alice: Api) -> None:
    """Section 5.7: after a 200 to DELETE, fetching that object/version MUST be 404."""
    v1, v2, _ = three_versions(alice)
    path = alice.object_path("shared", v1["id"])
    assert alice.delete(path, {"match[version]": v2["modified"]}).status_code == 200
    assert_error(alice.get(path, {"match[version]": v2["modified"]}), 404)
    assert alice.get(path, {"match[version]": v1["modified"]}).json()["objects"] == [v1]


def test_delete_last_version_makes_previous_one_last(alice: Api) -> None:
    v1, v2, _ = three_versions(alice)
    r = alice.delete(alice.object_path("shared", v1["id"]), {"match[version]": "last"})
    assert r.status_code == 200
    assert alice.get(alice.object_path("shared", v1["id"])).json()["objects"] == [v2]


def test_deleted_object_can_be_posted_again(alice: Api) -> None:
    obj = sdo("malware")
    alice.add("shared", [obj])
    assert alice.delete(alice.object_path("shared", obj["id"])).status_code == 200
    status = alice.add("shared", [obj])
    assert status["success_count"] == 1
    assert alice.objects("shared") == [obj]


def test_delete_in_one_collection_keeps_the_other(alice: Api) -> None:
    obj = sdo("malware")
    alice.add("shared", [obj])
    alice.add("alpha-only", [obj])
    assert alice.delete(alice.object_path("shared", obj["id"])).status_code == 200
    assert alice.objects("alpha-only") == [obj]


def test_delete_unknown_object_is_404(alice: Api) -> None:
    assert_error(alice.delete(alice.object_path("shared", sid("malware"))), 404)


def test_admin_deletes(alice: Api, root: Api) -> None:
    obj = sdo("malware")
    alice.add("shared", [obj])
    assert root.delete(root.object_path("shared", obj["id"])).status_code == 200
    assert alice.objects("shared") == []


# Section 5.7 table (mandatory responses once authenticated):
#   can_read false, can_write false -> 404; true/false -> 403; false/true -> 403.


def test_delete_without_read_or_write_is_404(alice: Api, bob: Api) -> None:
    obj = sdo("malware")
    alice.add("alpha-only", [obj])
    assert_error(bob.delete(bob.object_path("alpha-only", obj["id"])), 404)
    assert alice.objects("alpha-only") == [obj]


@pytest.mark.parametrize("user", ["rita", "bob"])
def test_delete_with_read_but_not_write_is_403(api: ApiFactory, alice: Api, user: str) -> None:
    obj = sdo("malware")
    alice.add("shared", [obj])
    client = api(user)
    assert_error(client.delete(client.object_path("shared", obj["id"])), 403)
    assert alice.objects("shared") == [obj]


def test_delete_with_read_but_not_write_is_403_even_for_unknown_object(rita: Api) -> None:
    # the table is about the permissions, not about the object
    assert_error(rita.delete(rita.object_path("shared", sid("malware"))), 403)


def test_delete_with_write_but_not_read_is_403(alice: Api, root: Api) -> None:
    obj = sdo("malware")
    alice.add("write-only", [obj])
    r = alice.delete(alice.object_path("write-only", obj["id"]))
    assert_error(r, 403)
    assert root.objects("write-only") == [obj]


def test_delete_with_write_but_not_read_unknown_object_is_403(alice: Api) -> None:
    assert_error(alice.delete(alice.object_path("write-only", sid("malware"))), 403)


def test_anonymous_delete_is_401(alice: Api, anon: Api) -> None:
    obj = sdo("malware", marking=TLP_CLEAR)  # readable anonymously: only writing needs a user
    alice.add("public", [obj])
    r = anon.delete(anon.object_path("public", obj["id"]))
    assert_error(r, 401)
    assert r.headers.get("www-authenticate")
    assert alice.objects("public") == [obj]


def test_delete_response_is_taxii_typed_with_accept(alice: Api) -> None:
    obj = sdo("malware")
    alice.add("shared", [obj])
    r = alice.http.delete(alice.object_path("shared", obj["id"]), headers={"Accept": TAXII})
    assert r.status_code == 200
    assert_taxii_type(r)
