"""Get objects (TAXII 2.1 section 5.4): envelope, order, headers, who may read."""

from __future__ import annotations

import uuid

import pytest

from .conftest import Api, ApiFactory
from .support import (
    TLP_CLEAR,
    World,
    assert_date_headers,
    assert_error,
    assert_taxii_type,
    ipv4,
    sdo,
    version_of,
)


def test_empty_collection_is_an_empty_envelope(alice: Api) -> None:
    r = alice.get(alice.objects_path("shared"))
    assert r.status_code == 200
    assert_taxii_type(r)
    body = r.json()
    assert body.get("more", False) is False
    assert "objects" not in body  # section 3.7: empty response has no objects property
    assert "next" not in body


def test_objects_come_back_as_posted_in_date_added_order(alice: Api) -> None:
    batches = [
        [sdo("malware", name="a"), sdo("indicator"), ipv4("198.51.100.20")],
        [sdo("campaign"), sdo("threat-actor")],
        [sdo("malware", name="b")],
    ]
    for batch in batches:
        alice.add("shared", batch)
    posted = [o for batch in batches for o in batch]
    r = alice.get(alice.objects_path("shared"))
    assert r.status_code == 200
    assert_taxii_type(r)
    body = r.json()
    assert body["more"] is False
    assert "next" not in body
    # section 3.3: ascending date_added; within one request the server adds in order
    manifest = alice.manifest("shared")
    dates = [m["date_added"] for m in manifest]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    assert [m["id"] for m in manifest] == [o["id"] for o in posted]
    assert body["objects"] == posted
    assert_date_headers(r, dates[0], dates[-1])


def test_objects_return_latest_version_only_by_default(alice: Api) -> None:
    v1 = sdo("malware", name="v1")
    v2 = version_of(v1, 30, name="v2")
    other = sdo("indicator")
    alice.add("shared", [v1, other])
    alice.add("shared", [v2])
    r = alice.get(alice.objects_path("shared"))
    # the latest version of each object, in the order its version was added
    assert r.json()["objects"] == [other, v2]
    manifest = alice.manifest("shared")
    assert [m["version"] for m in manifest] == [other["modified"], v2["modified"]]
    assert_date_headers(r, manifest[0]["date_added"], manifest[-1]["date_added"])


def test_other_reading_organisation_sees_the_same_objects(alice: Api, bob: Api, rita: Api) -> None:
    objs = [sdo("malware"), sdo("indicator")]
    alice.add("shared", objs)
    expected = alice.get(alice.objects_path("shared")).json()
    for reader in (bob, rita):
        r = reader.get(reader.objects_path("shared"))
        assert r.status_code == 200
        assert r.json() == expected


def test_collections_do_not_leak_into_each_other(alice: Api) -> None:
    a = sdo("malware", name="in alpha-only")
    s = sdo("malware", name="in shared")
    alice.add("alpha-only", [a])
    alice.add("shared", [s])
    assert alice.objects("shared") == [s]
    assert alice.objects("alpha-only") == [a]


def test_same_object_in_two_collections_is_independent(alice: Api) -> None:
    obj = sdo("malware")
    alice.add("shared", [obj])
    alice.add("alpha-only", [obj, version_of(obj, 10)])
    assert alice.objects("shared") == [obj]
    assert len(alice.manifest("alpha-only", {"match[version]": "all"})) == 2
    assert len(alice.manifest("shared", {"match[version]": "all"})) == 1


def test_basic_and_bearer_read_the_same(api: ApiFactory, alice: Api) -> None:
    alice.add("shared", [sdo("malware")])
    basic = api("alice", scheme="basic")
    assert (
        basic.get(basic.objects_path("shared")).json()
        == alice.get(alice.objects_path("shared")).json()
    )


def test_reading_a_write_only_collection_is_403(alice: Api, root: Api) -> None:
    alice.add("write-only", [sdo("malware")])
    assert_error(alice.get(alice.objects_path("write-only")), 403)
    assert len(root.objects("write-only")) == 1  # the admin reads it


@pytest.mark.parametrize(
    ("user", "alias"), [("bob", "alpha-only"), ("bob", "write-only"), ("rita", "write-only")]
)
def test_objects_of_a_collection_not_granted_are_404(
    api: ApiFactory, user: str, alias: str
) -> None:
    client = api(user)
    assert_error(client.get(client.objects_path(alias)), 404)


def test_objects_of_unknown_collection_are_404(alice: Api, world: World) -> None:
    assert_error(alice.get(f"/default/collections/{uuid.uuid4()}/objects/"), 404)
    assert_error(alice.get(f"/second/collections/{world.collections['shared']}/objects/"), 404)


def test_anonymous_reads_the_public_collection(alice: Api, anon: Api) -> None:
    obj = sdo("indicator", marking=TLP_CLEAR)
    alice.add("public", [obj])
    r = anon.get(anon.objects_path("public"))
    assert r.status_code == 200
    assert_taxii_type(r)
    assert r.json()["objects"] == [obj]
    [record] = alice.manifest("public")
    assert_date_headers(r, record["date_added"], record["date_added"])


def test_anonymous_on_non_public_collection_is_401(alice: Api, anon: Api) -> None:
    alice.add("shared", [sdo("malware")])
    for path in (
        anon.objects_path("shared"),
        anon.manifest_path("shared"),
        anon.objects_path("alpha-only"),
        anon.objects_path("write-only"),
        f"/default/collections/{uuid.uuid4()}/objects/",
    ):
        r = anon.get(path)
        assert_error(r, 401)
        assert r.headers.get("www-authenticate"), path
