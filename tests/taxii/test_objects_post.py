"""Add objects (TAXII 2.1 section 5.5): status resource, per-object results, immutability."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from .conftest import TINY_LIMIT, Api, ApiFactory
from .support import (
    TAXII,
    TAXII_TIMESTAMP,
    UUID4,
    World,
    assert_error,
    assert_taxii_type,
    envelope,
    invalid_indicator,
    ipv4,
    sdo,
    sid,
    ts,
    version_of,
)


def ids_versions(entries: list[dict[str, object]]) -> set[tuple[object, object]]:
    return {(e["id"], e["version"]) for e in entries}


# --------------------------------------------------------------------------- the status


def test_post_returns_202_and_a_complete_status(alice: Api) -> None:
    objs = [sdo("malware"), sdo("indicator"), sdo("threat-actor", modified=ts(60))]
    r = alice.post_objects("shared", objs)
    assert r.status_code == 202
    assert_taxii_type(r)
    status = r.json()
    assert UUID4.match(status["id"]), status["id"]
    assert TAXII_TIMESTAMP.match(status["request_timestamp"]), status["request_timestamp"]
    assert status["status"] == "complete"
    assert status["total_count"] == 3
    assert status["success_count"] == 3
    assert status["failure_count"] == 0
    assert status["pending_count"] == 0
    assert ids_versions(status["successes"]) == {(o["id"], o["modified"]) for o in objs}
    assert "failures" not in status  # empty lists are omitted (section 2, list)
    assert "pendings" not in status


def test_valid_objects_survive_invalid_neighbours(alice: Api) -> None:
    good = [sdo("malware"), sdo("indicator"), sdo("campaign"), ipv4("198.51.100.1")]
    bad_pattern = invalid_indicator()
    bad_id = sdo("malware", object_id="malware--not-a-uuid")
    r = alice.post_objects("shared", [good[0], bad_pattern, good[1], bad_id, good[2], good[3]])
    assert r.status_code == 202
    status = r.json()
    assert status["status"] == "complete"
    assert (status["total_count"], status["success_count"], status["failure_count"]) == (6, 4, 2)
    assert status["pending_count"] == 0
    assert {e["id"] for e in status["successes"]} == {o["id"] for o in good}
    assert [e["id"] for e in status["failures"]] == [bad_pattern["id"], "malware--not-a-uuid"]
    for failure in status["failures"]:
        assert isinstance(failure["message"], str) and failure["message"]
    assert status["failures"][0]["version"] == bad_pattern["modified"]
    # the valid ones are readable afterwards, the invalid ones are not stored
    stored = {o["id"]: o for o in alice.objects("shared")}
    assert stored == {o["id"]: o for o in good}


def test_non_object_entries_are_per_object_failures(alice: Api) -> None:
    good = sdo("malware")
    status = alice.add("shared", [42, good, "text", None])  # type: ignore[list-item]
    assert (status["total_count"], status["success_count"], status["failure_count"]) == (4, 1, 3)
    assert [e["id"] for e in status["successes"]] == [good["id"]]
    assert len(status["failures"]) == 3
    for failure in status["failures"]:  # status-details: id and version are required strings
        assert isinstance(failure["id"], str) and isinstance(failure["version"], str)
        assert failure["message"]
    assert [o["id"] for o in alice.objects("shared")] == [good["id"]]


def test_everything_invalid_is_still_a_complete_status(alice: Api) -> None:
    status = alice.add("shared", [invalid_indicator(), invalid_indicator()])
    assert (status["total_count"], status["success_count"], status["failure_count"]) == (2, 0, 2)
    assert "successes" not in status
    assert alice.get(alice.objects_path("shared")).json() == {"more": False}


def test_identical_repost_succeeds_without_new_version(alice: Api) -> None:
    objs = [sdo("malware"), sdo("indicator"), ipv4("203.0.113.9")]
    first = alice.add("shared", objs)
    before = alice.manifest("shared", {"match[version]": "all"})
    again = alice.add("shared", objs)
    assert (again["total_count"], again["success_count"], again["failure_count"]) == (3, 3, 0)
    assert ids_versions(again["successes"]) == ids_versions(first["successes"])
    after = alice.manifest("shared", {"match[version]": "all"})
    assert after == before  # same records, same date_added: nothing new was stored
    assert len(after) == 3


def test_identical_repost_with_other_key_order_is_the_same_version(alice: Api) -> None:
    obj = sdo("malware")
    alice.add("shared", [obj])
    reordered = dict(reversed(list(obj.items())))
    status = alice.add("shared", [reordered])
    assert status["success_count"] == 1 and status["failure_count"] == 0
    assert len(alice.manifest("shared", {"match[version]": "all"})) == 1


def test_different_body_under_same_id_and_modified_is_refused(alice: Api) -> None:
    obj = sdo("malware", name="original")
    alice.add("shared", [obj])
    forged = dict(obj, name="forged")
    status = alice.add("shared", [forged])
    assert (status["total_count"], status["success_count"], status["failure_count"]) == (1, 0, 1)
    failure = status["failures"][0]
    assert failure["id"] == obj["id"]
    assert failure["version"] == obj["modified"]
    assert failure["message"]
    # the stored version is untouched
    r = alice.get(alice.object_path("shared", obj["id"]), {"match[version]": "all"})
    assert r.json()["objects"] == [obj]


def test_conflict_inside_one_envelope(alice: Api) -> None:
    obj = sdo("malware", name="first")
    status = alice.add("shared", [obj, dict(obj, name="second")])
    assert (status["success_count"], status["failure_count"]) == (1, 1)
    assert status["failures"][0]["id"] == obj["id"]
    assert alice.objects("shared") == [obj]


def test_new_versions_are_added(alice: Api) -> None:
    v1 = sdo("malware", name="v1")
    v2 = version_of(v1, 60, name="v2")
    v3 = version_of(v1, 120, name="v3")
    status = alice.add("shared", [v1, v2])
    assert status["success_count"] == 2
    status = alice.add("shared", [v3])
    assert ids_versions(status["successes"]) == {(v3["id"], v3["modified"])}
    r = alice.get(alice.versions_path("shared", v1["id"]))
    assert r.json()["versions"] == [v1["modified"], v2["modified"], v3["modified"]]
    assert alice.objects("shared") == [v3]


def test_older_version_posted_later_does_not_become_last(alice: Api) -> None:
    v1 = sdo("malware", name="v1")
    v2 = version_of(v1, 60, name="v2")
    alice.add("shared", [v2])
    alice.add("shared", [v1])
    assert alice.objects("shared") == [v2]  # "last" is the latest version, not the latest added
    first = alice.objects("shared", {"match[version]": "first"})
    assert first == [v1]


def test_sco_without_created_or_modified(alice: Api) -> None:
    obj = ipv4("192.0.2.44")
    status = alice.add("shared", [obj])
    assert status["success_count"] == 1
    version = status["successes"][0]["version"]
    assert isinstance(version, str) and version  # a value consistent to the server
    [record] = alice.manifest("shared")
    assert record["id"] == obj["id"]
    assert record["version"] == version
    again = alice.add("shared", [obj])
    assert again["success_count"] == 1 and again["failure_count"] == 0
    assert again["successes"][0]["version"] == version
    assert len(alice.manifest("shared", {"match[version]": "all"})) == 1


def test_post_then_status_endpoint_returns_the_same_resource(alice: Api) -> None:
    status = alice.add("shared", [sdo("malware"), invalid_indicator()])
    r = alice.get(f"/default/status/{status['id']}/")
    assert r.status_code == 200
    assert r.json() == status


def test_identical_repost_into_a_write_only_collection(alice: Api, root: Api) -> None:
    """The writer cannot read the drop box, yet a re-post is still a no-op success."""
    obj = sdo("malware")
    assert alice.add("write-only", [obj])["success_count"] == 1
    again = alice.add("write-only", [obj])
    assert (again["success_count"], again["failure_count"]) == (1, 0)
    assert len(root.manifest("write-only", {"match[version]": "all"})) == 1


def test_admin_may_write_anywhere(root: Api) -> None:
    obj = sdo("malware")
    for alias in ("shared", "write-only", "other-root"):
        status = root.add(alias, [obj])
        assert status["success_count"] == 1, alias


# --------------------------------------------------------------------------- who may POST


@pytest.mark.parametrize(
    ("user", "alias", "code"),
    [
        ("rita", "shared", 403),  # a reader of the collection: can_write false
        ("rita", "alpha-only", 403),
        ("bob", "shared", 403),  # Beta only reads "shared"
        ("bob", "public", 403),  # public read does not give write
        ("bob", "alpha-only", 404),  # not granted at all: the collection is hidden
        ("bob", "write-only", 404),
        ("alice", "other-root", 202),
    ],
)
def test_post_permissions(api: ApiFactory, root: Api, user: str, alias: str, code: int) -> None:
    obj = sdo("malware")
    client = api(user)
    r = client.post_objects(alias, [obj])
    if code == 202:
        assert r.status_code == 202
        return
    assert_error(r, code)
    assert root.manifest(alias) == []  # nothing was written


def test_post_to_unknown_collection_is_404(alice: Api) -> None:
    r = alice.post(
        "/default/collections/5f5e2b1c-93a8-4b41-9f3c-2f6a2f35d6a1/objects/", envelope([sdo()])
    )
    assert_error(r, 404)


def test_post_to_unknown_api_root_is_404(alice: Api, world: World) -> None:
    r = alice.post(
        f"/nowhere/collections/{world.collections['shared']}/objects/", envelope([sdo()])
    )
    assert_error(r, 404)


def test_anonymous_post_is_401_even_on_a_public_collection(anon: Api, root: Api) -> None:
    r = anon.post_objects("public", [sdo("malware")])
    assert_error(r, 401)
    assert r.headers.get("www-authenticate")
    assert root.manifest("public") == []


# --------------------------------------------------------------------------- body and media type


@pytest.mark.parametrize(
    "content_type",
    [
        TAXII,
        "application/taxii+json",  # section 1.6.8.2: the latest version the server supports
        "application/taxii+json; version=2.1",
        'application/taxii+json;version="2.1"',
        "Application/TAXII+JSON;version=2.1",
    ],
)
def test_accepted_content_types(alice: Api, content_type: str) -> None:
    r = alice.post(alice.objects_path("shared"), envelope([sdo()]), content_type=content_type)
    assert r.status_code == 202, r.text


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/json",
        "application/stix+json;version=2.1",
        "application/taxii+json;version=2.0",
        "application/vnd.oasis.taxii+json;version=2.0",
        "text/plain",
    ],
)
def test_unsupported_content_type_is_415(alice: Api, content_type: str | None) -> None:
    r = alice.post(alice.objects_path("shared"), envelope([sdo()]), content_type=content_type)
    assert_error(r, 415)
    assert alice.manifest("shared") == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b"[]",
        b'"objects"',
        b"{}",
        b'{"objects": {"type": "malware"}}',
        b'{"objects": "none"}',
        b"\xff\xfe\x00",
    ],
)
def test_malformed_body_is_400(alice: Api, body: bytes) -> None:
    r = alice.post(alice.objects_path("shared"), body)
    assert_error(r, 400)
    assert alice.manifest("shared") == []


# --------------------------------------------------------------------------- 413


def padded(objects: list[dict[str, object]], size: int) -> bytes:
    """An envelope of exactly ``size`` bytes (JSON whitespace padding)."""
    raw = json.dumps(envelope(objects)).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def test_api_root_advertises_its_max_content_length(alice: Api, tiny: str) -> None:
    assert alice.get("/tiny/").json()["max_content_length"] == TINY_LIMIT


def test_body_of_exactly_max_content_length_is_accepted(alice: Api, tiny: str) -> None:
    obj = sdo("malware")
    r = alice.post(alice.objects_path("tiny"), padded([obj], TINY_LIMIT))
    assert r.status_code == 202, r.text  # section 4.2.1: smaller or equal MUST NOT be 413
    assert [o["id"] for o in alice.objects("tiny")] == [obj["id"]]


def test_declared_content_length_above_limit_is_413(alice: Api, tiny: str) -> None:
    body = padded([sdo("malware")], TINY_LIMIT + 1)
    r = alice.post(alice.objects_path("tiny"), body)
    assert r.request.headers["content-length"] == str(TINY_LIMIT + 1)
    assert_error(r, 413)
    assert alice.manifest("tiny") == []


def test_large_declared_body_is_413(alice: Api, tiny: str) -> None:
    objs = [sdo("malware") for _ in range(200)]
    r = alice.post(alice.objects_path("tiny"), envelope(objs))
    assert_error(r, 413)
    assert alice.manifest("tiny") == []


def test_chunked_body_above_limit_is_413(alice: Api, tiny: str) -> None:
    body = padded([sdo("malware")], TINY_LIMIT + 200)

    def chunks() -> Iterator[bytes]:
        yield body[:1000]
        yield body[1000:]

    request = alice.http.build_request(
        "POST",
        alice.objects_path("tiny"),
        content=chunks(),
        headers={"Content-Type": TAXII},
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    r = alice.http.send(request)
    assert_error(r, 413)
    assert alice.manifest("tiny") == []


def test_chunked_body_within_limit_is_accepted(alice: Api, tiny: str) -> None:
    obj = sdo("malware")
    body = padded([obj], TINY_LIMIT)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 512):
            yield body[i : i + 512]

    r = alice.http.post(
        alice.objects_path("tiny"), content=chunks(), headers={"Content-Type": TAXII}
    )
    assert r.status_code == 202, r.text
    assert [o["id"] for o in alice.objects("tiny")] == [obj["id"]]


def test_413_on_the_default_root_above_ten_mebibytes(alice: Api) -> None:
    limit = alice.get("/default/").json()["max_content_length"]
    head = b'{"objects": []'
    body = head + b" " * (limit - len(head)) + b"}"
    assert len(body) == limit + 1
    r = alice.post(alice.objects_path("shared"), body)
    assert_error(r, 413)


def test_large_envelope_within_limit(alice: Api) -> None:
    objs = [sdo("malware", name=f"m{i}") for i in range(1000)]
    status = alice.add("shared", objs)
    assert (status["total_count"], status["success_count"]) == (1000, 1000)
    assert {o["id"] for o in alice.objects("shared")} == {o["id"] for o in objs}


def test_relationship_may_point_outside_the_collection(alice: Api) -> None:
    """Relationships may point at objects the collection does not hold."""
    rel = sdo(
        "relationship",
        relationship_type="uses",
        source_ref=sid("intrusion-set"),
        target_ref=sid("malware"),
    )
    rel.pop("name")
    status = alice.add("shared", [rel])
    assert status["success_count"] == 1, status
    assert alice.objects("shared") == [rel]
