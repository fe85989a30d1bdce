"""Hostile input: oversized bodies, deeply nested JSON, huge strings, invalid UTF-8,
duplicate keys, wrong types. Each gets a clear 4xx (a TAXII error body, or a TAXII status
naming the failing objects), the server stays up (the next request succeeds), and nothing
is stored that the rules refuse."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tansiq.storage.base import Query, VersionFilter

from .conftest import Site
from .support import TAXII, TLP_GREEN, TLP_RED, envelope, ipv4, malware


def stored_ids(site: Site, alias: str, *ids: str) -> list[str]:
    page = site.store.query(
        Query(site.colls[alias].id, ids=tuple(ids), versions=VersionFilter(all=True, last=False))
    )
    return [r.id for r in page.rows]


def server_is_up(site: Site) -> None:
    """A following request, on a new connection, succeeds."""
    r = site.client("alice").get(site.base("shared") + "objects/", {"limit": "1"})
    assert r.status_code == 200, r.text


def clear_error(r: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert r.status_code in statuses, (r.status_code, r.text[:500])
    assert r.headers["content-type"] == TAXII
    body: dict[str, Any] = r.json()
    assert body["http_status"] == str(r.status_code)
    assert body["title"] and body["description"]
    assert "Traceback" not in body["description"]
    return body


def post_raw(
    site: Site, alias: str, body: bytes | Iterator[bytes], user: str = "alice"
) -> httpx.Response:
    return site.client(user).http.post(
        site.base(alias) + "objects/", content=body, headers={"Content-Type": TAXII}
    )


def raw_request(site: Site, request: bytes) -> bytes:
    """Send bytes httpx would refuse to send; return the raw response."""
    with socket.create_connection(("127.0.0.1", site.server.port), timeout=10) as sock:
        sock.sendall(request)
        out = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return out
            out += chunk


# --------------------------------------------------------------------------- size


def test_declared_oversized_body_is_413(shared_site: Site) -> None:
    obj = malware(markings=[TLP_GREEN], description="A" * 5000)
    before = shared_site.store.count_versions(shared_site.colls["tiny"].id)
    body = clear_error(post_raw(shared_site, "tiny", envelope([obj])), 413)
    assert "4096" in body["description"]
    assert shared_site.store.count_versions(shared_site.colls["tiny"].id) == before
    server_is_up(shared_site)


def test_streamed_oversized_body_is_413(shared_site: Site) -> None:
    obj = malware(markings=[TLP_GREEN])

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        yield b'{"objects":[' + json.dumps(obj).encode() + b","
        for _ in range(20):
            yield b" " * 1000
        yield b"]}"

    clear_error(post_raw(shared_site, "tiny", chunks()), 413)
    assert stored_ids(shared_site, "tiny", obj["id"]) == []
    server_is_up(shared_site)


def test_body_above_the_default_limit_is_413(shared_site: Site) -> None:
    obj = malware(markings=[TLP_GREEN], description="B" * (10 * 1024 * 1024 + 10))
    clear_error(post_raw(shared_site, "shared", envelope([obj])), 413)
    assert stored_ids(shared_site, "shared", obj["id"]) == []
    server_is_up(shared_site)


# --------------------------------------------------------------------------- nesting


def _nested(kind: str, depth: int) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [300, 600, 1100, 100_000])
@pytest.mark.parametrize("kind", ["array", "object"])
def test_deeply_nested_json(shared_site: Site, kind: str, depth: int) -> None:
    """Accepted and stored intact, or refused with a 4xx and nothing stored: never a 5xx."""
    oid = f"malware--{uuid.uuid4()}"
    head = json.dumps(malware(oid, markings=[TLP_GREEN]))[:-1]
    body = ('{"objects":[' + head + ', "x_deep": ' + _nested(kind, depth) + "}]}").encode()
    r = post_raw(shared_site, "shared", body)
    server_is_up(shared_site)
    assert r.status_code < 500, (r.status_code, r.text[:300])
    if r.status_code == 202:
        status = r.json()
        if status["success_count"] == 1:
            got = shared_site.client("alice").get(shared_site.base("shared") + f"objects/{oid}/")
            assert got.status_code == 200
            assert json.dumps(got.json()["objects"][0]["x_deep"], separators=(",", ":")) == _nested(
                kind, depth
            )
        else:
            assert status["failures"][0]["id"] == oid
            assert stored_ids(shared_site, "shared", oid) == []
    else:
        clear_error(r, 400, 413, 422)
        assert stored_ids(shared_site, "shared", oid) == []


def test_deeply_nested_envelope(shared_site: Site) -> None:
    body = ('{"objects":' + "[" * 50_000 + "]" * 50_000 + "}").encode()
    clear_error(post_raw(shared_site, "shared", body), 400, 422)
    server_is_up(shared_site)


# --------------------------------------------------------------------------- huge strings


def test_huge_string_within_the_limit_is_stored_intact_or_refused(shared_site: Site) -> None:
    obj = malware(markings=[TLP_GREEN], description="C" * 3_000_000)
    r = post_raw(shared_site, "shared", envelope([obj]))
    if r.status_code == 202 and r.json()["success_count"] == 1:
        got = shared_site.client("alice").get(shared_site.base("shared") + f"objects/{obj['id']}/")
        assert got.json()["objects"][0]["description"] == obj["description"]
    else:
        assert r.status_code in (202, 400, 413, 422), r.status_code
        assert stored_ids(shared_site, "shared", obj["id"]) == []
    server_is_up(shared_site)


def test_huge_strings_in_the_request_line_and_headers(shared_site: Site) -> None:
    wrong = shared_site.raw("Bearer tsq_wrong").get(shared_site.base("shared") + "objects/")
    huge_auth = shared_site.raw("Bearer " + "x" * 60_000).get(
        shared_site.base("shared") + "objects/"
    )
    assert (huge_auth.status_code, huge_auth.json()) == (401, wrong.json())
    huge_id = shared_site.client("alice").get(
        shared_site.base("shared") + "objects/malware--" + "a" * 5000 + "/"
    )
    clear_error(huge_id, 404)
    huge_type = shared_site.client("alice").get(
        shared_site.base("shared") + "objects/", {"match[type]": "a" * 5000}
    )
    clear_error(huge_type, 400)
    huge_version = shared_site.client("alice").get(
        shared_site.base("shared") + "objects/", {"match[version]": "2024" * 5000}
    )
    clear_error(huge_version, 400)
    server_is_up(shared_site)


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    "body",
    [
        b'{"objects":[{"type":"malware","name":"\xff\xfe"}]}',
        b'{"objects":[{"type":"malware","name":"\xc3\x28"}]}',
        b'{"objects":[{"type":"malware","name":"\\ud800"}]}',  # lone surrogate
        b'{"objects":[\x00]}',
        '{"objects":[]}'.encode("utf-16"),
    ],
    ids=["ff-fe", "bad-continuation", "lone-surrogate", "nul", "utf-16"],
)
def test_invalid_utf8_bodies_are_400(shared_site: Site, body: bytes) -> None:
    before = shared_site.store.count_versions(shared_site.colls["shared"].id)
    clear_error(post_raw(shared_site, "shared", body), 400)
    assert shared_site.store.count_versions(shared_site.colls["shared"].id) == before
    server_is_up(shared_site)


def test_invalid_utf8_in_filters_is_400(shared_site: Site) -> None:
    client = shared_site.client("alice")
    for query in (
        "match[type]=%FF%FE",
        "match[id]=malware--%C3%28",
        "added_after=%FF",
        "limit=%FF",
    ):
        clear_error(client.get(shared_site.base("shared") + "objects/?" + query), 400)
    server_is_up(shared_site)


@pytest.mark.parametrize(
    "value", [b"Basic \xff\xfe", b"Basic YWxpY2U6\xe9", b"Bearer tsq_\xff\xfe", b"\xff\xfe"]
)
def test_non_ascii_authorization_header_is_401(shared_site: Site, value: bytes) -> None:
    path = shared_site.base("shared") + "objects/"
    raw = raw_request(
        shared_site,
        b"GET "
        + path.encode()
        + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: "
        + TAXII.encode()
        + b"\r\nAuthorization: "
        + value
        + b"\r\nConnection: close\r\n\r\n",
    )
    server_is_up(shared_site)
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0]
    wrong = shared_site.raw("Bearer tsq_wrong").get(path)
    assert status_line == b"HTTP/1.1 401 Unauthorized", raw[:300]
    assert json.loads(body) == wrong.json()
    assert b"\r\nwww-authenticate: " in head.lower()


# --------------------------------------------------------------------------- duplicate keys


def test_duplicate_keys_are_400_and_nothing_is_stored(shared_site: Site) -> None:
    good = malware(markings=[TLP_GREEN])
    other = malware(markings=[TLP_GREEN])
    text_good = json.dumps(good)
    cases = {
        "objects": '{"objects":[' + text_good + '],"objects":[]}',
        "name": '{"objects":[' + text_good + "," + json.dumps(other)[:-1] + ', "name": "again"}]}',
        "object_marking_refs": '{"objects":['
        + text_good
        + ","
        + json.dumps(other)[:-1]
        + ', "object_marking_refs": ["'
        + TLP_RED
        + '"]}]}',
        "selectors": '{"objects":['
        + text_good
        + ","
        + json.dumps(other)[:-1]
        + ', "granular_markings": [{"marking_ref": "'
        + TLP_RED
        + '", "selectors": ["name"], "selectors": ["description"]}]}]}',
    }
    for key, text in cases.items():
        body = clear_error(post_raw(shared_site, "shared", text.encode()), 400)
        assert f"'{key}'" in body["description"], body
        assert stored_ids(shared_site, "shared", good["id"], other["id"]) == []
    server_is_up(shared_site)


# --------------------------------------------------------------------------- wrong types


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"null",
        b'"objects"',
        b"42",
        b"true",
        b"{}",
        b'{"objects":{}}',
        b'{"objects":"x"}',
        b'{"objects":null}',
        b"",
        b"   ",
    ],
)
def test_envelopes_of_the_wrong_shape_are_400(shared_site: Site, body: bytes) -> None:
    clear_error(post_raw(shared_site, "shared", body), 400)
    server_is_up(shared_site)


def test_wrong_typed_objects_fail_one_by_one(shared_site: Site) -> None:
    good = malware(markings=[TLP_GREEN])
    sco = ipv4("192.0.2.77", markings=[TLP_GREEN])
    bad = [
        "a string",
        42,
        None,
        [],
        {"type": 5},
        {**malware(), "created": 12345},
        {**malware(), "id": {"x": 1}},
        {**malware(), "name": ["x"]},
        {**malware(), "spec_version": 2.1},
        {**malware(), "object_marking_refs": TLP_RED},  # not a list: must not become unmarked
        {**malware(), "object_marking_refs": [5]},
        {**malware(), "granular_markings": "x"},
        {**malware(), "granular_markings": [{"marking_ref": 5, "selectors": ["name"]}]},
        {**malware(markings=[TLP_RED]), "x_tansiq_recipients": [None]},
        {**malware(markings=[TLP_RED]), "x_tansiq_recipients": {"bob": True}},
        {**malware(), "created_by_ref": 5},
        {**malware(), "created_by_ref": [f"identity--{uuid.uuid4()}"]},
    ]
    objects: list[Any] = [good, *bad, sco]
    r = post_raw(shared_site, "shared", envelope(objects))
    assert r.status_code == 202, r.text
    status = r.json()
    assert (status["total_count"], status["success_count"], status["failure_count"]) == (
        len(objects),
        2,
        len(bad),
    ), status
    assert [s["id"] for s in status["successes"]] == [good["id"], sco["id"]]
    for n, failure in enumerate(status["failures"], 1):
        assert failure["message"].startswith(f"object {n}"), failure
    bad_ids = [o["id"] for o in bad if isinstance(o, dict) and isinstance(o.get("id"), str)]
    assert stored_ids(shared_site, "shared", *bad_ids) == []
    assert sorted(stored_ids(shared_site, "shared", good["id"], sco["id"])) == sorted(
        [good["id"], sco["id"]]
    )
    server_is_up(shared_site)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "abc"},
        {"limit": "-1"},
        {"limit": "0"},
        {"limit": "1.5"},
        {"limit": "\u0663"},
        {"added_after": "yesterday"},
        {"added_after": "2024-02-30T00:00:00Z"},
        {"match[version]": "newest"},
        {"match[id]": "not-an-id"},
        {"match[type]": "Bad_Type"},
        {"match[spec_version]": "two"},
        {"match[unknown]": "x"},
        {"next": "\x00"},
    ],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()).encode("ascii", "replace").decode(),
)
def test_wrong_typed_filters_are_400(shared_site: Site, params: dict[str, str]) -> None:
    clear_error(
        shared_site.client("alice").get(shared_site.base("shared") + "objects/", params), 400
    )
    clear_error(
        shared_site.client("alice").get(shared_site.base("shared") + "manifest/", params), 400
    )


def test_wrong_media_types_and_methods(shared_site: Site) -> None:
    path = shared_site.base("shared") + "objects/"
    obj = malware(markings=[TLP_GREEN])
    alice = shared_site.client("alice")
    clear_error(alice.post(path, [obj], content_type="application/json"), 415)
    clear_error(alice.http.post(path, content=envelope([obj])), 415)
    clear_error(alice.get(path, Accept="text/html"), 406)
    clear_error(alice.http.put(path, content=envelope([obj]), headers={"Content-Type": TAXII}), 405)
    assert stored_ids(shared_site, "shared", obj["id"]) == []
    server_is_up(shared_site)
