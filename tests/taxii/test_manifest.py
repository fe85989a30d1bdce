"""Get object manifests (TAXII 2.1 section 5.3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import Api, ApiFactory
from .support import (
    STIX,
    TAXII_TIMESTAMP,
    assert_date_headers,
    assert_error,
    assert_taxii_type,
    ipv4,
    sdo,
    taxii_time,
    version_of,
)


def test_empty_manifest(alice: Api) -> None:
    r = alice.get(alice.manifest_path("shared"))
    assert r.status_code == 200
    assert_taxii_type(r)
    body = r.json()
    assert body.get("more", False) is False
    assert "objects" not in body  # section 5.3.1: key omitted when there are no records


def test_manifest_records(alice: Api) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    objs = [
        sdo("malware"),
        sdo("indicator", modified="2022-02-02T02:02:02.222Z"),
        ipv4("192.0.2.5"),
    ]
    status = alice.add("shared", objs)
    after = datetime.now(UTC) + timedelta(seconds=1)
    r = alice.get(alice.manifest_path("shared"))
    assert r.status_code == 200
    assert_taxii_type(r)
    body = r.json()
    assert body["more"] is False
    recs = body["objects"]
    assert [rec["id"] for rec in recs] == [o["id"] for o in objs]
    sco_version = status["successes"][2]["version"]
    assert [rec["version"] for rec in recs] == [
        objs[0]["modified"],
        objs[1]["modified"],
        sco_version,
    ]
    collection = alice.get(alice.coll("shared")).json()
    for rec in recs:
        assert set(rec) == {"id", "date_added", "version", "media_type"}
        assert TAXII_TIMESTAMP.match(rec["date_added"]), rec["date_added"]
        assert before <= taxii_time(rec["date_added"]) <= after
        assert rec["media_type"] == STIX
        assert rec["media_type"] in collection["media_types"]  # section 5.3.1
    dates = [rec["date_added"] for rec in recs]
    assert dates == sorted(dates)
    assert_date_headers(r, dates[0], dates[-1])


def test_manifest_has_one_record_per_version(alice: Api) -> None:
    v1 = sdo("malware")
    v2 = version_of(v1, 5)
    alice.add("shared", [v1])
    alice.add("shared", [v2])
    assert [rec["version"] for rec in alice.manifest("shared")] == [v2["modified"]]
    every = alice.manifest("shared", {"match[version]": "all"})
    assert [rec["version"] for rec in every] == [v1["modified"], v2["modified"]]
    assert every[0]["date_added"] < every[1]["date_added"]
    first = alice.manifest("shared", {"match[version]": "first"})
    assert first == [every[0]]


def test_manifest_and_objects_agree_under_the_same_filters(alice: Api) -> None:
    objs = [sdo("malware"), sdo("indicator"), sdo("malware"), ipv4("192.0.2.6")]
    alice.add("shared", objs)
    alice.add("shared", [version_of(objs[0], 9)])
    for params in (
        {},
        {"match[type]": "malware"},
        {"match[version]": "all"},
        {"match[id]": f"{objs[1]['id']},{objs[3]['id']}"},
        {"match[type]": "malware", "match[version]": "first"},
    ):
        man = alice.get(alice.manifest_path("shared"), params)
        env = alice.get(alice.objects_path("shared"), params)
        man_recs = man.json()["objects"]
        env_objs = env.json()["objects"]
        assert [rec["id"] for rec in man_recs] == [o["id"] for o in env_objs], params
        assert man.headers["x-taxii-date-added-first"] == env.headers["x-taxii-date-added-first"]
        assert man.headers["x-taxii-date-added-last"] == env.headers["x-taxii-date-added-last"]


def test_manifest_pages(alice: Api) -> None:
    objs = [sdo("malware", name=f"m{i}") for i in range(7)]
    alice.add("shared", objs)
    pages = list(alice.pages(alice.manifest_path("shared"), {"limit": "3"}))
    assert [len(p.json()["objects"]) for p in pages] == [3, 3, 1]
    assert [p.json()["more"] for p in pages] == [True, True, False]
    ids = [rec["id"] for p in pages for rec in p.json()["objects"]]
    assert ids == [o["id"] for o in objs]
    for p in pages:
        recs = p.json()["objects"]
        assert_date_headers(p, recs[0]["date_added"], recs[-1]["date_added"])


def test_manifest_of_write_only_collection_is_403(alice: Api) -> None:
    alice.add("write-only", [sdo("malware")])
    assert_error(alice.get(alice.manifest_path("write-only")), 403)


@pytest.mark.parametrize(
    ("user", "alias"), [("bob", "alpha-only"), ("bob", "write-only"), ("rita", "write-only")]
)
def test_manifest_of_collection_not_granted_is_404(api: ApiFactory, user: str, alias: str) -> None:
    client = api(user)
    assert_error(client.get(client.manifest_path(alias)), 404)


def test_manifest_of_unknown_collection_is_404(alice: Api) -> None:
    assert_error(alice.get(f"/default/collections/{uuid.uuid4()}/manifest/"), 404)
