"""Media types and content negotiation (TAXII 2.1 sections 1.6.8, 3.1), error messages
(section 3.6.1) and the HTTP status codes of the endpoint tables (sections 4 and 5)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import httpx
import pytest

from .conftest import Api
from .support import TAXII, assert_error, assert_taxii_type, envelope, sdo


@dataclass
class Paths:
    get: dict[str, str]  # endpoint name -> path answering 200 to GET
    objects: str  # POST target
    object: str  # DELETE target


@pytest.fixture
def paths(alice: Api) -> Paths:
    obj = sdo("malware")
    status = alice.add("shared", [obj])
    return Paths(
        get={
            "discovery": "/taxii2/",
            "api-root": "/default/",
            "status": f"/default/status/{status['id']}/",
            "collections": "/default/collections/",
            "collection": alice.coll("shared"),
            "manifest": alice.manifest_path("shared"),
            "objects": alice.objects_path("shared"),
            "object": alice.object_path("shared", obj["id"]),
            "versions": alice.versions_path("shared", obj["id"]),
        },
        objects=alice.objects_path("shared"),
        object=alice.object_path("shared", obj["id"]),
    )


def send(
    api: Api, method: str, path: str, accept: str | None, body: bytes | None = None
) -> httpx.Response:
    headers = {"Content-Type": TAXII} if body is not None else {}
    request = api.http.build_request(method, path, content=body, headers=headers)
    if accept is None:
        del request.headers["accept"]
    else:
        request.headers["accept"] = accept
    return api.http.send(request)


# --------------------------------------------------------------------------- success responses


def test_every_success_response_has_the_taxii_media_type(alice: Api, paths: Paths) -> None:
    for name, path in paths.get.items():
        r = alice.get(path)
        assert r.status_code == 200, (name, r.text)
        assert_taxii_type(r)
        json.loads(r.content)  # UTF-8 JSON (section 1.6.7)
    r = alice.post(paths.objects, envelope([sdo()]))
    assert r.status_code == 202
    assert_taxii_type(r)
    r = alice.delete(paths.object)
    assert r.status_code == 200
    assert_taxii_type(r)


# --------------------------------------------------------------------------- Accept


ACCEPTED = [
    None,  # no Accept header: served with the TAXII 2.1 media type
    "*/*",
    "application/*",
    "application/taxii+json",  # section 1.6.8.2: the latest version the server supports
    TAXII,
    "application/taxii+json; version=2.1",
    'application/taxii+json;version="2.1"',
    "APPLICATION/TAXII+JSON;VERSION=2.1",
    "application/xml, application/taxii+json;version=2.1",
    "application/taxii+json;version=2.1;q=0.5",
    "application/taxii+json;version=2.1,application/stix+json;version=2.1",
    "text/html;q=0.9, */*;q=0.1",
]

REFUSED = [
    "application/xml",
    "application/json",
    "text/html",
    "application/taxii+json;version=2.0",
    "application/taxii+json;version=3.0",
    "application/vnd.oasis.taxii+json;version=2.0",  # TAXII 2.0
    "application/stix+json;version=2.1",
    "application/taxii+json;version=2.1;q=0",
    "application/taxii+json;version=2.0, application/xml",
]


@pytest.mark.parametrize("accept", ACCEPTED)
def test_acceptable_accept_headers(alice: Api, paths: Paths, accept: str | None) -> None:
    for name, path in paths.get.items():
        r = send(alice, "GET", path, accept)
        assert r.status_code == 200, (name, accept, r.text)
        assert_taxii_type(r)  # the response always names the version (section 3.1)


@pytest.mark.parametrize("accept", REFUSED)
def test_unacceptable_accept_headers_are_406(alice: Api, paths: Paths, accept: str) -> None:
    for name, path in paths.get.items():
        r = send(alice, "GET", path, accept)
        assert r.status_code == 406, (name, accept, r.status_code)
        assert_error(r, 406)


@pytest.mark.parametrize("accept", REFUSED[:4])
def test_post_and_delete_with_unacceptable_accept_are_406_and_change_nothing(
    alice: Api, paths: Paths, accept: str
) -> None:
    before = alice.manifest("shared", {"match[version]": "all"})
    body = json.dumps(envelope([sdo()])).encode()
    assert_error(send(alice, "POST", paths.objects, accept, body), 406)
    assert_error(send(alice, "DELETE", paths.object, accept), 406)
    assert alice.manifest("shared", {"match[version]": "all"}) == before


@pytest.mark.parametrize("accept", [None, "*/*", "application/taxii+json"])
def test_post_with_acceptable_accept(alice: Api, paths: Paths, accept: str | None) -> None:
    body = json.dumps(envelope([sdo()])).encode()
    r = send(alice, "POST", paths.objects, accept, body)
    assert r.status_code == 202
    assert_taxii_type(r)


# --------------------------------------------------------------------------- error bodies


def test_error_responses_are_taxii_error_messages(
    alice: Api, rita: Api, anon: Api, paths: Paths
) -> None:
    cases: list[tuple[int, httpx.Response]] = [
        (400, alice.get(paths.get["objects"], {"limit": "0"})),
        (401, anon.get(paths.get["objects"])),
        (403, alice.get(alice.objects_path("write-only"))),
        (403, rita.post(paths.objects, envelope([sdo()]))),
        (404, alice.get(f"/default/collections/{uuid.uuid4()}/")),
        (404, alice.get("/default/no-such-resource/")),
        (
            404,
            alice.get(
                paths.get["collection"] + "objects/malware--0c5f8f3c-3f7f-4f2a-9c0e-7e1c1c0f3d2a/"
            ),
        ),
        (405, alice.http.put(paths.objects, content=b"{}")),
        (
            405,
            alice.http.post(paths.get["manifest"], content=b"{}", headers={"Content-Type": TAXII}),
        ),
        (406, send(alice, "GET", paths.get["objects"], "application/xml")),
        (415, alice.post(paths.objects, envelope([sdo()]), content_type="application/json")),
    ]
    for status, r in cases:
        body = assert_error(r, status)
        assert set(body) <= {
            "title",
            "description",
            "error_id",
            "error_code",
            "http_status",
            "external_details",
            "details",
        }, body
        for k in (
            "title",
            "description",
            "error_id",
            "error_code",
            "http_status",
            "external_details",
        ):
            if k in body:
                assert isinstance(body[k], str), (k, body)
        if "details" in body:
            assert isinstance(body["details"], dict)


def test_405_names_every_allowed_method(alice: Api, paths: Paths) -> None:
    """RFC 7231 section 6.5.5: a 405 MUST carry Allow with the resource's supported methods."""
    r = alice.http.put(paths.objects, content=b"{}")
    assert_error(r, 405)
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed, allowed
    r = alice.http.put(paths.object, content=b"{}")
    assert_error(r, 405)
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert {"GET", "DELETE"} <= allowed, allowed


def test_error_does_not_echo_credentials(paths: Paths, alice: Api) -> None:
    token = alice.http.headers["authorization"].split()[1]
    r = alice.get(paths.get["objects"], {"limit": "nope"})
    assert_error(r, 400)
    assert token not in r.text
