"""Get object versions (TAXII 2.1 section 5.8)."""

from __future__ import annotations

from typing import Any

from .conftest import Api
from .support import (
    assert_date_headers,
    assert_error,
    assert_taxii_type,
    ipv4,
    sdo,
    sid,
    version_of,
)


def versions_added(alice: Api, count: int) -> list[dict[str, Any]]:
    v1 = sdo("indicator")
    out = [v1] + [version_of(v1, 10 * i, name=f"v{i}") for i in range(1, count)]
    for v in out:
        alice.add("shared", [v, sdo("malware")])
    return out


def records(alice: Api, object_id: str) -> list[dict[str, Any]]:
    return alice.manifest("shared", {"match[id]": object_id, "match[version]": "all"})


def test_versions_resource(alice: Api) -> None:
    vs = versions_added(alice, 3)
    oid = vs[0]["id"]
    r = alice.get(alice.versions_path("shared", oid))
    assert r.status_code == 200
    assert_taxii_type(r)
    assert r.json() == {"more": False, "versions": [v["modified"] for v in vs]}
    recs = records(alice, oid)
    assert_date_headers(r, recs[0]["date_added"], recs[-1]["date_added"])


def test_versions_of_a_single_version_object(alice: Api) -> None:
    obj = sdo("malware")
    alice.add("shared", [obj])
    r = alice.get(alice.versions_path("shared", obj["id"]))
    assert r.json() == {"more": False, "versions": [obj["modified"]]}
    [rec] = records(alice, obj["id"])
    assert_date_headers(r, rec["date_added"], rec["date_added"])


def test_versions_of_an_sco(alice: Api) -> None:
    obj = ipv4("192.0.2.99")
    status = alice.add("shared", [obj])
    r = alice.get(alice.versions_path("shared", obj["id"]))
    assert r.json() == {"more": False, "versions": [status["successes"][0]["version"]]}


def test_versions_paging(alice: Api) -> None:
    vs = versions_added(alice, 5)
    oid = vs[0]["id"]
    recs = records(alice, oid)
    pages = list(alice.pages(alice.versions_path("shared", oid), {"limit": "2"}))
    assert [p.json()["versions"] for p in pages] == [
        [vs[0]["modified"], vs[1]["modified"]],
        [vs[2]["modified"], vs[3]["modified"]],
        [vs[4]["modified"]],
    ]
    assert [p.json()["more"] for p in pages] == [True, True, False]
    assert "next" not in pages[-1].json()
    for p, (a, b) in zip(pages, [(0, 1), (2, 3), (4, 4)], strict=True):
        assert_date_headers(p, recs[a]["date_added"], recs[b]["date_added"])


def test_versions_added_after(alice: Api) -> None:
    vs = versions_added(alice, 4)
    oid = vs[0]["id"]
    recs = records(alice, oid)
    r = alice.get(alice.versions_path("shared", oid), {"added_after": recs[1]["date_added"]})
    assert r.json() == {"more": False, "versions": [vs[2]["modified"], vs[3]["modified"]]}
    assert_date_headers(r, recs[2]["date_added"], recs[3]["date_added"])


def test_versions_added_after_the_last_is_empty(alice: Api) -> None:
    vs = versions_added(alice, 2)
    oid = vs[0]["id"]
    recs = records(alice, oid)
    r = alice.get(alice.versions_path("shared", oid), {"added_after": recs[-1]["date_added"]})
    assert r.status_code == 200
    assert r.json() == {"more": False}  # section 5.8.1: no versions -> key omitted


def test_versions_spec_version_filter(alice: Api) -> None:
    vs = versions_added(alice, 2)
    path = alice.versions_path("shared", vs[0]["id"])
    assert alice.get(path, {"match[spec_version]": "2.1"}).json()["versions"] == [
        v["modified"] for v in vs
    ]
    assert alice.get(path, {"match[spec_version]": "2.0"}).json() == {"more": False}


def test_versions_of_unknown_object_is_404(alice: Api) -> None:
    versions_added(alice, 1)
    assert_error(alice.get(alice.versions_path("shared", sid("indicator"))), 404)


def test_versions_in_collection_not_granted_is_404(alice: Api, bob: Api) -> None:
    obj = sdo("malware")
    alice.add("alpha-only", [obj])
    assert_error(bob.get(bob.versions_path("alpha-only", obj["id"])), 404)


def test_versions_by_another_reader(alice: Api, bob: Api) -> None:
    vs = versions_added(alice, 2)
    r = bob.get(bob.versions_path("shared", vs[0]["id"]))
    assert r.json()["versions"] == [v["modified"] for v in vs]
