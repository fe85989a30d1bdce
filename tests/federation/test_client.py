"""The federation TAXII 2.1 client against a real Tansiq server, a real medallion, and
fakes (httpx.MockTransport, raw sockets) for the quirks and faults real servers show."""

from __future__ import annotations

import base64
import email.utils
import logging
import socket
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tansiq import __version__
from tansiq.access import admin
from tansiq.errors import PeerError
from tansiq.federation.client import (
    TAXII_21,
    Credentials,
    ObjectsPage,
    TaxiiClient,
    parse_retry_after,
)
from tansiq.storage.base import ApiRoot
from tansiq.taxii.settings import Settings
from tests.conftest import PASSWORD, Instance, LiveServer, build_instance, free_port

from .medallion_support import MedallionCollection, MedallionServer, medallion_server

TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
BASE = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)


def stix_time(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def taxii_time(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def malware(
    n: int, versions: int = 1, creator: str | None = None, pad: int = 0
) -> list[dict[str, Any]]:
    """``versions`` versions of one malware SDO (modified one minute apart)."""
    oid = f"malware--{uuid.uuid4()}"
    created = BASE + timedelta(seconds=n)
    out = []
    for v in range(versions):
        obj: dict[str, Any] = {
            "type": "malware",
            "spec_version": "2.1",
            "id": oid,
            "created": stix_time(created),
            "modified": stix_time(created + timedelta(minutes=v)),
            "name": f"dropper {n}" + ("x" * pad),
            "is_family": False,
            "object_marking_refs": [TLP_GREEN],
        }
        if creator:
            obj["created_by_ref"] = creator
        out.append(obj)
    return out


def key(obj: dict[str, Any]) -> tuple[str, str]:
    """(id, version) of a STIX object or of a TAXII status-details entry."""
    return obj["id"], obj.get("version") or obj.get("modified") or obj.get("created") or ""


# =========================================================================== real Tansiq


@pytest.fixture(scope="module")
def tansiq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Instance, LiveServer]]:
    inst = build_instance(Path(tmp_path_factory.mktemp("fed-client")) / "tansiq.db")
    inst.store.add_api_root(ApiRoot(name="tiny", title="Tiny root", max_content_length=3000))
    server = LiveServer(inst.store).start()
    yield inst, server
    server.stop()
    inst.store.close()


def alpha_identity(inst: Instance) -> str:
    user = inst.store.get_user("alice")
    assert user is not None
    org = inst.store.get_org(user.org_id)
    assert org is not None
    return org.identity_id


def fresh_collection(inst: Instance, api_root: str = "default") -> str:
    alias = f"c-{uuid.uuid4().hex[:10]}"
    coll = admin.add_collection(
        inst.store, f"Test {alias}", api_root=api_root, alias=alias,
        read=["Alpha CERT"], write=["Alpha CERT"],
    )  # fmt: skip
    return coll.id


class Recording(httpx.HTTPTransport):
    """The real HTTP transport, remembering every request (method, URL, body size)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.seen.append((request.method, str(request.url), len(body)))
        return super().handle_request(request)


def test_tansiq_discovery_and_api_root(tansiq: tuple[Instance, LiveServer]) -> None:
    inst, server = tansiq
    for creds in (
        Credentials(token=inst.tokens["alice"]),
        Credentials(user="alice", password=PASSWORD),
    ):
        with TaxiiClient(f"{server.url}/taxii2/", creds) as client:
            found = client.discover()
            assert found["title"] == Settings().title
            assert f"{server.url}/default/" in found["api_roots"]
            assert client.api_root_url() == f"{server.url}/default/"
            info = client.api_root_information()
            assert info["max_content_length"] == 10 * 1024 * 1024
            assert TAXII_21 in info["versions"]
    # an API root named explicitly: a name, a path, an absolute URL
    for ref in ("second", "/second/", f"{server.url}/second/"):
        with TaxiiClient(
            f"{server.url}/taxii2/", Credentials(token=inst.tokens["alice"]), api_root=ref
        ) as client:
            assert client.api_root_url() == f"{server.url}/second/"
            assert [c.alias for c in client.collections()] == ["other-root"]


def test_tansiq_collections_and_resolution(tansiq: tuple[Instance, LiveServer]) -> None:
    inst, server = tansiq
    with TaxiiClient(f"{server.url}/taxii2/", Credentials(token=inst.tokens["alice"])) as client:
        by_alias = {c.alias: c for c in client.collections()}
        shared = by_alias["shared"]
        assert shared.id == inst.collections["shared"]
        assert (shared.title, shared.can_read, shared.can_write) == ("Shared intel", True, True)
        assert shared.media_types == ("application/stix+json;version=2.1",)
        drop = by_alias["write-only"]
        assert (drop.can_read, drop.can_write) == (False, True)
        for ref in (shared.id, "shared", "Shared intel"):
            assert client.resolve_collection(ref) == shared
        with pytest.raises(PeerError) as caught:
            client.resolve_collection("no such thing")
        err = caught.value
        assert not err.transient
        assert "no collection 'no such thing'" in err.message
        assert f"{shared.id} ('Shared intel', alias 'shared')" in err.message
        assert "\n" not in err.message
    # bob (Beta Police) reads 'shared' but may not write it, and never sees 'alpha-only'
    with TaxiiClient(f"{server.url}/taxii2/", Credentials(token=inst.tokens["bob"])) as client:
        shared = client.resolve_collection("shared")
        assert (shared.can_read, shared.can_write) == (True, False)
        with pytest.raises(PeerError, match="no collection 'alpha-only'"):
            client.resolve_collection("alpha-only")


def test_tansiq_round_trip_and_paging_every_version_once(
    tansiq: tuple[Instance, LiveServer],
) -> None:
    inst, server = tansiq
    cid = fresh_collection(inst)
    creator = alpha_identity(inst)
    posted: list[dict[str, Any]] = []
    for n in range(120):
        posted.extend(malware(n, versions=1 + n % 3, creator=creator))
    assert len(posted) == 240
    transport = Recording()
    with TaxiiClient(
        f"{server.url}/taxii2/",
        Credentials(token=inst.tokens["alice"]),
        transport=transport,
        page_limit=7,
    ) as client:
        outcome = client.add_objects(cid, posted)
        assert outcome.total_count == 240
        assert outcome.failures == [] and outcome.pendings == []
        assert sorted(key(s) for s in outcome.successes) == sorted(key(o) for o in posted)
        assert outcome.status_id
        assert [m for m, _, _ in transport.seen].count("POST") == 1

        pages = list(client.iter_pages(cid))
        got = [obj for page in pages for obj in page.objects]
        assert Counter(key(o) for o in got) == Counter(key(o) for o in posted)  # each once
        assert sorted(got, key=key) == sorted(posted, key=key)  # as posted
        assert len(pages) == 35  # ceil(240 / 7)
        assert all(len(p.objects) == 7 for p in pages[:-1]) and len(pages[-1].objects) == 2
        assert all(p.more for p in pages[:-1]) and not pages[-1].more
        assert all(p.next for p in pages[:-1])
        lasts = [p.date_added_last for p in pages]
        assert all(lasts) and lasts == sorted(lasts)  # type: ignore[type-var]

        # incremental: after the 10th page's last date_added, exactly the rest
        rest = [o for p in client.iter_pages(cid, added_after=lasts[9]) for o in p.objects]
        assert [key(o) for o in rest] == [key(o) for p in pages[10:] for o in p.objects]
        # versions="last": one version per object
        latest = client.get_objects(cid, versions="last", limit=1000)
        assert len(latest.objects) == 120 and not latest.more

        # re-posting is idempotent: successes again, nothing new stored
        again = client.add_objects(cid, posted[:10])
        assert again.failures == [] and len(again.successes) == 10
        assert sum(len(p.objects) for p in client.iter_pages(cid, limit=1000)) == 240

        # an invalid object is a failure; the valid ones of the same envelope are kept
        bad = {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
               "created": stix_time(BASE), "modified": stix_time(BASE)}  # fmt: skip
        fresh = malware(999, creator=creator)
        mixed = client.add_objects(cid, [bad, *fresh])
        assert [f["id"] for f in mixed.failures] == [bad["id"]]
        assert "pattern" in mixed.failures[0]["message"]
        assert [key(s) for s in mixed.successes] == [key(fresh[0])]


def test_tansiq_small_max_content_length_splits_envelopes(
    tansiq: tuple[Instance, LiveServer],
) -> None:
    inst, server = tansiq
    cid = fresh_collection(inst, api_root="tiny")
    creator = alpha_identity(inst)
    objects = [o for n in range(30) for o in malware(n, creator=creator, pad=100)]
    huge = malware(500, creator=creator, pad=4000)[0]
    transport = Recording()
    with TaxiiClient(
        f"{server.url}/taxii2/",
        Credentials(token=inst.tokens["alice"]),
        api_root="tiny",
        transport=transport,
    ) as client:
        assert client.api_root_information()["max_content_length"] == 3000
        outcome = client.add_objects(cid, [*objects[:15], huge, *objects[15:]])
        assert outcome.total_count == 31
        assert [f["id"] for f in outcome.failures] == [huge["id"]]
        size = len(orjson.dumps(huge))
        assert outcome.failures[0]["message"] == (
            f"object of {size} bytes is larger than the peer's max_content_length "
            "(3000 bytes); not sent"
        )
        assert sorted(key(s) for s in outcome.successes) == sorted(key(o) for o in objects)
        posts = [n for m, _, n in transport.seen if m == "POST"]
        assert len(posts) >= 3 and max(posts) <= 3000
        stored = [o for p in client.iter_pages(cid) for o in p.objects]
        assert sorted(stored, key=key) == sorted(objects, key=key)


def test_tansiq_refusals_are_not_transient(tansiq: tuple[Instance, LiveServer]) -> None:
    inst, server = tansiq
    sleeps: list[float] = []
    secret = "not-a-real-token-" + uuid.uuid4().hex
    with (
        TaxiiClient(
            f"{server.url}/taxii2/", Credentials(token=secret), sleep=sleeps.append
        ) as client,
        pytest.raises(PeerError) as caught,
    ):
        client.collections()
    err = caught.value
    assert (err.transient, err.status) == (False, 401)
    assert err.message.startswith(f"GET {server.url}/taxii2/: HTTP 401 Unauthorized")
    assert secret not in err.message and sleeps == []
    # bob may read 'shared' but not write it: 403 with the server's explanation
    with TaxiiClient(f"{server.url}/taxii2/", Credentials(token=inst.tokens["bob"])) as client:
        with pytest.raises(PeerError) as caught:
            client.add_objects(inst.collections["shared"], malware(1))
        assert (caught.value.transient, caught.value.status) == (False, 403)
        with pytest.raises(PeerError) as caught:
            client.get_objects(str(uuid.uuid4()))
        assert (caught.value.transient, caught.value.status) == (False, 404)


# =========================================================================== real medallion


def test_medallion_discovery_collections_and_round_trip(tmp_path: Path) -> None:
    with medallion_server(
        tmp_path, ["intel", MedallionCollection("Read only", can_write=False)]
    ) as (url, creds, ids):
        assert creds.user and creds.password
        assert creds.password not in repr(creds)
        with TaxiiClient(url, creds) as client:
            assert client.api_root_url() == url.replace("/taxii2/", "/api1/")
            assert client.api_root_information()["max_content_length"] == 10 * 1024 * 1024
            intel = client.resolve_collection("intel")
            assert (intel.id, intel.can_read, intel.can_write) == (ids["intel"], True, True)
            assert client.resolve_collection("Read only").can_write is False
            assert client.resolve_collection(ids["Read only"]).id == ids["Read only"]

            objects = [o for n in range(40) for o in malware(n, versions=2)]
            outcome = client.add_objects(ids["intel"], objects)
            assert outcome.failures == [] and outcome.pendings == []
            assert sorted(key(s) for s in outcome.successes) == sorted(key(o) for o in objects)
            got = [o for p in client.iter_pages(ids["intel"]) for o in p.objects]
            assert sorted(got, key=key) == sorted(objects, key=key)

            # medallion quirk: a duplicate (id, version) is reported as a failure
            again = client.add_objects(ids["intel"], objects[:2])
            assert [f["message"] for f in again.failures] == ["Unable to process object"] * 2
            assert again.successes == []

            with pytest.raises(PeerError) as caught:  # can_write false: 403
                client.add_objects(ids["Read only"], objects[:1])
            assert (caught.value.transient, caught.value.status) == (False, 403)


def test_medallion_page_cap_every_version_exactly_once(tmp_path: Path) -> None:
    preloaded = [o for n in range(23) for o in malware(n, versions=1 + n % 2)]  # 34 versions
    coll = MedallionCollection("Feed", alias="feed", objects=preloaded)
    with (
        medallion_server(tmp_path, [coll], max_page_size=5) as (url, creds, ids),
        TaxiiClient(url, creds, page_limit=1000) as client,
    ):
        pages = list(client.iter_pages(ids["feed"]))
        assert [len(p.objects) for p in pages] == [5] * 6 + [4]
        got = [o for p in pages for o in p.objects]
        assert Counter(key(o) for o in got) == Counter(key(o) for o in preloaded)
        assert got == preloaded  # in date_added order, unchanged
        # and after the cursor of the third page: exactly the rest
        rest = [
            o
            for p in client.iter_pages(ids["feed"], added_after=pages[2].date_added_last)
            for o in p.objects
        ]
        assert rest == preloaded[15:]


def test_medallion_small_max_content_length_and_restart(tmp_path: Path) -> None:
    server = MedallionServer(
        tmp_path, [MedallionCollection("intel", alias="intel")], max_content_length=2000
    )
    with server:
        cid = server.peer.collections["intel"]
        objects = [o for n in range(12) for o in malware(n, pad=150)]
        big = malware(99, pad=2500)[0]
        with TaxiiClient(server.discovery_url, server.credentials) as client:
            outcome = client.add_objects(cid, [big, *objects])
            assert [f["id"] for f in outcome.failures] == [big["id"]]
            assert (
                "larger than the peer's max_content_length (2000 bytes)"
                in (outcome.failures[0]["message"])
            )
            assert len(outcome.successes) == 12
            assert sorted(server.stored(cid), key=key) == sorted(objects, key=key)

            server.stop()  # the peer goes away: connection refused, transient
            sleeps: list[float] = []
            with (
                TaxiiClient(
                    server.discovery_url, server.credentials, retries=2, sleep=sleeps.append
                ) as down,
                pytest.raises(PeerError) as caught,
            ):
                down.collections()
            assert caught.value.transient and len(sleeps) == 2
            server.start()  # back on the same port, data kept
            got = [o for p in client.iter_pages(cid) for o in p.objects]
            assert sorted(got, key=key) == sorted(objects, key=key)


# =========================================================================== fakes

DISCOVERY = "https://peer.example/taxii2/"
ROOT = "https://peer.example/api1/"
COLL = "5f1c3a5e-3b8a-4f4e-9c0a-0d9c6c1f7e21"
TOKEN = "tok-" + "s3cr3t" * 6


def taxii(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, content=orjson.dumps(body), headers={"Content-Type": TAXII_21, **(headers or {})}
    )


class FakePeer:
    """A scripted TAXII 2.1 server for httpx.MockTransport.

    ``paging``: "next" (stateless offset tokens), "dates" (more=true, no next, date
    headers), "bare" (more=true, neither), "stuck" (ignores added_after, no next).
    ``post``: "complete", "pending" (pending, then pending, then complete on GET status),
    "never" (always pending), "counts" (complete with counts only).
    ``faults`` are answered (or raised) first, one per request.
    """

    def __init__(
        self,
        n: int = 0,
        *,
        page_cap: int = 1000,
        paging: str = "next",
        max_content_length: int = 10_000_000,
        hard_limit: int | None = None,
        post: str = "complete",
        discovery: dict[str, Any] | None = None,
    ) -> None:
        self.stored: list[tuple[str, dict[str, Any]]] = [
            (taxii_time(BASE + timedelta(seconds=i)), o)
            for i, o in enumerate(o for k in range(n) for o in malware(k))
        ]
        self.page_cap = page_cap
        self.paging = paging
        self.max_content_length = max_content_length
        self.hard_limit = hard_limit or max_content_length
        self.post = post
        self.discovery = discovery or {"title": "fake", "default": ROOT, "api_roots": [ROOT]}
        self.faults: deque[httpx.Response | Exception] = deque()
        self.requests: list[httpx.Request] = []
        self.posts: list[list[dict[str, Any]]] = []
        self.status_polls = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.faults:
            fault = self.faults.popleft()
            if isinstance(fault, Exception):
                raise fault
            return fault
        path = request.url.path
        if path == "/taxii2/":
            return taxii(self.discovery)
        if path == "/api1/":
            info = {"title": "r", "versions": [TAXII_21]}
            return taxii({**info, "max_content_length": self.max_content_length})
        if path == "/api1/collections/":
            return taxii({"collections": [{"id": COLL, "title": "Intel", "alias": "intel",
                                           "can_read": True, "can_write": True}]})  # fmt: skip
        if path == f"/api1/collections/{COLL}/objects/" and request.method == "GET":
            return self.get_objects(request)
        if path == f"/api1/collections/{COLL}/objects/" and request.method == "POST":
            return self.add_objects(request)
        if path.startswith("/api1/status/"):
            return self.status(path.split("/")[3])
        return taxii({"title": "Not found", "http_status": "404"}, 404)

    def get_objects(self, request: httpx.Request) -> httpx.Response:
        q = request.url.params
        rows = self.stored
        after = q.get("added_after")
        if after and self.paging != "stuck":
            rows = [r for r in rows if r[0] > after]
        start = int(q.get("next", "0"))
        size = min(int(q.get("limit", "1000")), self.page_cap)
        page = rows[start : start + size]
        more = start + size < len(rows)
        body: dict[str, Any] = {"more": more}
        if page:
            body["objects"] = [o for _, o in page]
        if more and self.paging == "next":
            body["next"] = str(start + size)
        headers: dict[str, str] = {}
        if page and self.paging != "bare":
            headers = {
                "X-TAXII-Date-Added-First": page[0][0],
                "X-TAXII-Date-Added-Last": page[-1][0],
            }
        return taxii(body, headers=headers)

    def status_body(self, objects: list[dict[str, Any]], state: str) -> dict[str, Any]:
        details = [{"id": o["id"], "version": o["modified"]} for o in objects]
        body: dict[str, Any] = {"id": "st-1", "status": state, "total_count": len(objects),
                                "success_count": 0, "failure_count": 0, "pending_count": 0}  # fmt: skip
        if state == "pending":
            body.update(pending_count=len(details), pendings=details)
        elif self.post != "counts":
            body.update(success_count=len(details), successes=details)
        else:
            body.update(success_count=len(details))
        return body

    def add_objects(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        if len(body) > self.hard_limit:
            return taxii({"title": "Payload too large", "http_status": "413"}, 413)
        objects = orjson.loads(body)["objects"]
        self.posts.append(objects)
        state = "complete" if self.post in ("complete", "counts") else "pending"
        return taxii(self.status_body(objects, state), 202)

    def status(self, status_id: str) -> httpx.Response:
        self.status_polls += 1
        objects = self.posts[-1]
        done = self.post == "pending" and self.status_polls >= 2
        return taxii(self.status_body(objects, "complete" if done else "pending"))


def fake_client(peer: FakePeer, sleeps: list[float] | None = None, **options: Any) -> TaxiiClient:
    return TaxiiClient(
        DISCOVERY,
        options.pop("credentials", Credentials(token=TOKEN)),
        transport=peer.transport(),
        sleep=(sleeps.append if sleeps is not None else lambda _: None),
        **options,
    )


def all_keys(pages: list[ObjectsPage]) -> list[tuple[str, str]]:
    return [key(o) for p in pages for o in p.objects]


# --------------------------------------------------------------------------- requests


def test_headers_and_authentication() -> None:
    peer = FakePeer(3)
    with fake_client(peer) as client:
        client.get_objects(COLL)
        client.add_objects(COLL, malware(1))
    for request in peer.requests:
        assert request.headers["Accept"] == TAXII_21
        assert request.headers["User-Agent"] == f"tansiq/{__version__}"
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    post = [r for r in peer.requests if r.method == "POST"]
    assert len(post) == 1 and post[0].headers["Content-Type"] == TAXII_21
    get = [r for r in peer.requests if r.url.path.endswith("/objects/") and r.method == "GET"]
    assert get[0].url.params["match[version]"] == "all"
    assert get[0].url.params["limit"] == "1000"

    peer = FakePeer()
    with fake_client(peer, credentials=Credentials(user="ann", password="pä ss")) as client:
        client.discover()
    expected = "Basic " + base64.b64encode("ann:pä ss".encode()).decode()
    assert peer.requests[0].headers["Authorization"] == expected


def test_api_root_choice() -> None:
    relative = FakePeer(
        discovery={"title": "t", "default": "/api1/", "api_roots": ["/api1/", "/x/"]}
    )
    with fake_client(relative) as client:
        assert client.api_root_url() == ROOT
    single = FakePeer(discovery={"title": "t", "api_roots": [ROOT]})
    with fake_client(single) as client:
        assert client.api_root_url() == ROOT
    with (
        fake_client(FakePeer(discovery={"title": "t", "api_roots": [ROOT, "/x/"]})) as client,
        pytest.raises(PeerError) as caught,
    ):
        client.api_root_url()
    assert not caught.value.transient
    assert "lists 2 API roots and no default" in caught.value.message
    assert f"{ROOT}, /x/" in caught.value.message
    with (
        fake_client(FakePeer(discovery={"title": "t"})) as client,
        pytest.raises(PeerError, match="lists no API root"),
    ):
        client.api_root_url()
    # credentials never follow a discovery document to another server...
    elsewhere = FakePeer(discovery={"title": "t", "default": "https://evil.example/api1/"})
    with (
        fake_client(elsewhere) as client,
        pytest.raises(PeerError, match="on another server; name it explicitly"),
    ):
        client.api_root_url()
    # ...unless the operator names that API root
    explicit = FakePeer()
    with fake_client(explicit, api_root="https://peer.example/api1") as client:
        assert client.api_root_url() == ROOT
        client.collections()
    assert [r.url.path for r in explicit.requests] == ["/api1/collections/"]
    with fake_client(FakePeer(), api_root="api1") as client:
        assert client.api_root_url() == ROOT


def test_bad_configuration_is_refused_clearly() -> None:
    for url, message in [
        ("ftp://peer.example/taxii2/", "use an absolute http"),
        ("peer.example/taxii2/", "use an absolute http"),
        ("https://u:pw@peer.example/taxii2/", "contains a user name or password"),
    ]:
        with pytest.raises(PeerError, match=message) as caught:
            TaxiiClient(url)
        assert "pw@" not in caught.value.message
    with pytest.raises(PeerError, match="not both"):
        Credentials(token="t", user="u", password="p")
    with pytest.raises(PeerError, match="needs a user name"):
        Credentials(password="p")


def test_api_root_that_does_not_speak_taxii_21() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/taxii2/":
            return taxii({"title": "old", "default": ROOT})
        return taxii({"title": "old", "versions": ["application/vnd.oasis.taxii+json; version=2.0"],
                      "max_content_length": 1000})  # fmt: skip

    with (
        TaxiiClient(DISCOVERY, transport=httpx.MockTransport(handler)) as client,
        pytest.raises(PeerError, match="does not speak TAXII 2.1") as caught,
    ):
        client.add_objects(COLL, malware(1))
    assert not caught.value.transient


def test_resolve_collection_ambiguous_title_and_unlisted_id() -> None:
    other = "0b6f1d9e-1111-4222-8333-944455556666"

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/taxii2/":
            return taxii({"title": "t", "default": ROOT})
        if path == "/api1/collections/":
            return taxii({"collections": [
                {"id": COLL, "title": "Intel", "can_read": True, "can_write": False},
                {"id": str(uuid.uuid4()), "title": "Intel", "can_read": True, "can_write": True},
            ]})  # fmt: skip
        if path == f"/api1/collections/{other}/":
            return taxii({"id": other, "title": "Drop box", "can_read": False, "can_write": True})
        return taxii({"title": "Not found", "description": "no such collection"}, 404)

    with TaxiiClient(DISCOVERY, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(PeerError, match="2 collections of .* have the title 'Intel'"):
            client.resolve_collection("Intel")
        assert client.resolve_collection(COLL).can_write is False
        drop = client.resolve_collection(other)  # not listed, but answers by id
        assert (drop.title, drop.can_read, drop.can_write) == ("Drop box", False, True)
        assert drop.media_types == ("application/stix+json",)  # absent: section 5.2.1
        with pytest.raises(PeerError, match="no collection 'nope'") as caught:
            client.resolve_collection("nope")
        assert not caught.value.transient


# --------------------------------------------------------------------------- paging quirks


def test_tiny_page_cap_with_next() -> None:
    peer = FakePeer(23, page_cap=3)
    with fake_client(peer) as client:
        pages = list(client.iter_pages(COLL, limit=50))
    assert [len(p.objects) for p in pages] == [3] * 7 + [2]
    assert all_keys(pages) == [key(o) for _, o in peer.stored]
    # the original query is repeated along with next
    follow = peer.requests[-1].url.params
    assert (follow["next"], follow["limit"], follow["match[version]"]) == ("21", "50", "all")


def test_more_without_next_pages_on_with_date_added_last() -> None:
    peer = FakePeer(25, page_cap=10, paging="dates")
    start = taxii_time(BASE - timedelta(seconds=1))
    with fake_client(peer) as client:
        pages = list(client.iter_pages(COLL, added_after=start))
    assert [len(p.objects) for p in pages] == [10, 10, 5]
    assert all_keys(pages) == [key(o) for _, o in peer.stored]  # each exactly once
    asked = [
        r.url.params.get("added_after") for r in peer.requests if r.url.path.endswith("/objects/")
    ]
    assert asked == [start, pages[0].date_added_last, pages[1].date_added_last]
    assert all("next" not in r.url.params for r in peer.requests)


def test_more_without_next_nor_header_is_an_explained_error() -> None:
    peer = FakePeer(5, page_cap=2, paging="bare")
    with fake_client(peer) as client:
        pages = client.iter_pages(COLL)
        assert len(next(pages).objects) == 2
        with pytest.raises(PeerError) as caught:
            next(pages)
    assert not caught.value.transient
    assert "more=true without 'next' nor an X-TAXII-Date-Added-Last header" in caught.value.message


def test_paging_that_makes_no_progress_is_an_error_not_a_loop() -> None:
    peer = FakePeer(5, page_cap=2, paging="stuck")  # ignores added_after
    with (
        fake_client(peer) as client,
        pytest.raises(PeerError, match="paging makes no progress") as caught,
    ):
        list(client.iter_pages(COLL))
    assert not caught.value.transient
    assert len(peer.requests) <= 5

    # an empty page with more=true that hands back the same next
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/taxii2/":
            return taxii({"title": "t", "default": ROOT})
        return taxii({"more": True, "next": "same"})

    with (
        TaxiiClient(DISCOVERY, transport=httpx.MockTransport(handler)) as client,
        pytest.raises(PeerError, match="paging makes no progress"),
    ):
        list(client.iter_pages(COLL))


# --------------------------------------------------------------------------- writing quirks


def test_envelopes_fill_max_content_length_exactly() -> None:
    objects = [o for n in range(6) for o in malware(n)]
    raws = [orjson.dumps(o) for o in objects]
    assert len({len(r) for r in raws}) == 1
    exact = len(b'{"objects":[]}') + 3 * len(raws[0]) + 2  # three objects, two commas
    peer = FakePeer(max_content_length=exact)
    with fake_client(peer) as client:
        outcome = client.add_objects(COLL, objects)
    assert [len(p) for p in peer.posts] == [3, 3]
    assert all(len(r.content) == exact for r in peer.requests if r.method == "POST")
    assert peer.posts[0] == objects[:3] and peer.posts[1] == objects[3:]
    assert outcome.total_count == 6 and len(outcome.successes) == 6 and outcome.failures == []

    peer = FakePeer(max_content_length=exact - 1)
    with fake_client(peer) as client:
        client.add_objects(COLL, objects)
    assert [len(p) for p in peer.posts] == [2, 2, 2]


def test_oversize_object_is_reported_and_never_sent() -> None:
    small = [o for n in range(8) for o in malware(n, pad=200)]
    big = malware(100, pad=3000)[0]
    peer = FakePeer(max_content_length=1000)
    with fake_client(peer) as client:
        outcome = client.add_objects(COLL, [*small[:4], big, *small[4:]])
    sent = [o["id"] for p in peer.posts for o in p]
    assert big["id"] not in sent and sorted(sent) == sorted(o["id"] for o in small)
    assert all(len(r.content) <= 1000 for r in peer.requests if r.method == "POST")
    assert outcome.failures == [{
        "id": big["id"], "version": big["modified"],
        "message": f"object of {len(orjson.dumps(big))} bytes is larger than the peer's "
                   "max_content_length (1000 bytes); not sent",
    }]  # fmt: skip
    assert len(outcome.successes) == 8 and outcome.total_count == 9


def test_envelope_refused_as_too_large_is_split_in_halves() -> None:
    objects = [o for n in range(8) for o in malware(n, pad=200)]
    one = len(orjson.dumps(objects[0])) + 14
    # advertises a generous limit but takes two objects at most; a padded one not at all
    peer = FakePeer(max_content_length=100_000, hard_limit=2 * one + 1)
    huge = malware(50, pad=2 * one)[0]
    with fake_client(peer) as client:
        outcome = client.add_objects(COLL, [*objects, huge])
    assert sorted(key(s) for s in outcome.successes) == sorted(key(o) for o in objects)
    assert [f["id"] for f in outcome.failures] == [huge["id"]]
    assert outcome.failures[0]["message"].startswith("refused by the peer: HTTP 413")
    assert max(len(p) for p in peer.posts) == 2


def test_pending_status_is_followed_to_completion() -> None:
    peer = FakePeer(post="pending")
    sleeps: list[float] = []
    objects = [o for n in range(4) for o in malware(n)]
    with fake_client(peer, sleeps) as client:
        outcome = client.add_objects(COLL, objects)
    polls = [r for r in peer.requests if r.url.path.startswith("/api1/status/")]
    assert [r.url.path for r in polls] == ["/api1/status/st-1/"] * 2
    assert sleeps == [0.5, 0.75]  # poll_interval, growing
    assert outcome.status_id == "st-1"
    assert sorted(key(s) for s in outcome.successes) == sorted(key(o) for o in objects)
    assert outcome.failures == [] and outcome.pendings == []


def test_status_that_never_completes_ends_as_pendings() -> None:
    peer = FakePeer(post="never")
    sleeps: list[float] = []
    objects = malware(1, versions=3)
    with fake_client(peer, sleeps, poll_timeout=2.0) as client:
        outcome = client.add_objects(COLL, objects)
    assert sleeps == [0.5, 0.75, 1.125]
    assert [key(p) for p in outcome.pendings] == [key(o) for o in objects]
    assert outcome.successes == [] and outcome.failures == []


def test_status_with_counts_only_is_reconciled() -> None:
    peer = FakePeer(post="counts")
    objects = [o for n in range(3) for o in malware(n)]
    with fake_client(peer) as client:
        outcome = client.add_objects(COLL, objects)
    assert outcome.successes == [{"id": o["id"], "version": o["modified"]} for o in objects]


# --------------------------------------------------------------------------- faults


def test_429_retry_after_seconds_is_honoured() -> None:
    peer = FakePeer(3)
    peer.faults.append(taxii({"title": "Too many requests"}, 429, headers={"Retry-After": "7"}))
    sleeps: list[float] = []
    with fake_client(peer, sleeps) as client:
        client.discover()
        assert sleeps == [7.0]


def test_429_retry_after_date_capped_and_reported() -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    peer = FakePeer()
    peer.faults.append(taxii({"title": "slow down"}, 429, headers={"Retry-After": when}))
    sleeps: list[float] = []
    with fake_client(peer, sleeps) as client:
        client.discover()
    assert len(sleeps) == 1 and 17 <= sleeps[0] <= 20

    peer = FakePeer()
    peer.faults.extend(
        taxii({"title": "busy"}, 429, headers={"Retry-After": "120"}) for _ in range(4)
    )
    sleeps = []
    with (
        fake_client(peer, sleeps, retries=3, max_backoff=30.0) as client,
        pytest.raises(PeerError) as caught,
    ):
        client.discover()
    assert sleeps == [30.0, 30.0, 30.0]  # capped at max_backoff
    err = caught.value
    assert (err.transient, err.status, err.retry_after) == (True, 429, 120.0)
    assert err.message == (
        f"GET {DISCOVERY}: HTTP 429 Too Many Requests: busy (gave up after 4 attempts)"
    )


def test_parse_retry_after() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after(" 15 ") == 15.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:42 GMT", now=lambda: now) == 42.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now=lambda: now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_5xx_then_success_with_exponential_backoff() -> None:
    peer = FakePeer(4)
    peer.faults.extend(
        [taxii({"title": "Internal"}, 500), httpx.Response(502), httpx.Response(503)]
    )
    sleeps: list[float] = []
    with fake_client(peer, sleeps, backoff=0.5) as client:
        page = client.get_objects(COLL)  # discovery sees the three faults first
    assert len(page.objects) == 4
    assert len(sleeps) == 3
    for attempt, slept in enumerate(sleeps):
        base = 0.5 * 2**attempt
        assert base / 2 <= slept <= base


def test_backoff_is_capped() -> None:
    peer = FakePeer()
    peer.faults.extend(httpx.Response(503) for _ in range(6))
    sleeps: list[float] = []
    with (
        fake_client(peer, sleeps, retries=5, backoff=1.0, max_backoff=4.0) as client,
        pytest.raises(PeerError) as caught,
    ):
        client.discover()
    assert len(sleeps) == 5 and all(s <= 4.0 for s in sleeps) and sleeps[-1] >= 2.0
    assert (caught.value.transient, caught.value.status) == (True, 503)


def test_truncated_json_is_retried_then_a_transient_error() -> None:
    peer = FakePeer(3)
    with fake_client(peer) as client:
        client.api_root_url()
    peer.faults.extend(
        httpx.Response(200, content=b'{"more": false, "objects": [{"id": "malw', headers={"Content-Type": TAXII_21})
        for _ in range(4)
    )  # fmt: skip
    sleeps: list[float] = []
    with fake_client(peer, sleeps, retries=3) as client:
        client._root_url = ROOT  # discovery already done above
        with pytest.raises(PeerError) as caught:
            client.get_objects(COLL)
    err = caught.value
    assert err.transient and err.status == 200 and len(sleeps) == 3
    url = f"{ROOT}collections/{COLL}/objects/?limit=1000&match%5Bversion%5D=all"
    assert err.message.startswith(f"GET {url}: HTTP 200 with a body that is not valid JSON")
    assert err.message.endswith("(gave up after 4 attempts)") and "\n" not in err.message


def test_a_200_that_is_not_the_expected_resource_is_retried() -> None:
    peer = FakePeer(2)
    peer.faults.append(httpx.Response(200, content=b"<html>maintenance</html>"))
    peer.faults.append(taxii(["not", "an", "object"]))
    with fake_client(peer, retries=3) as client:
        assert client.discover()["title"] == "fake"
    peer = FakePeer(2)
    peer.faults.extend(taxii({"objects": "nope"}) for _ in range(2))
    with fake_client(peer, retries=1) as client:
        client._root_url = ROOT
        with pytest.raises(PeerError, match="'objects' is not a list") as caught:
            client.get_objects(COLL)
    assert caught.value.transient


def test_connection_refused_on_a_closed_port() -> None:
    port = free_port()  # bound then closed: nothing listens there
    sleeps: list[float] = []
    with (
        TaxiiClient(f"http://127.0.0.1:{port}/taxii2/", retries=2, sleep=sleeps.append) as client,
        pytest.raises(PeerError) as caught,
    ):
        client.discover()
    err = caught.value
    assert (err.transient, err.status) == (True, None)
    assert err.message.startswith(f"GET http://127.0.0.1:{port}/taxii2/: cannot connect")
    assert err.message.endswith("(gave up after 3 attempts)") and len(sleeps) == 2


@contextmanager
def raw_server(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A loopback socket server that reads a request head and lets ``answer`` misbehave."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                answer(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/taxii2/"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_body_cut_short_on_the_wire_is_transient() -> None:
    def cut(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/taxii+json;version=2.1\r\n"
            b'Content-Length: 400\r\n\r\n{"title": "cut sh'
        )

    sleeps: list[float] = []
    with (
        raw_server(cut) as url,
        TaxiiClient(url, retries=1, sleep=sleeps.append) as client,
        pytest.raises(PeerError) as caught,
    ):
        client.discover()
    assert caught.value.transient and len(sleeps) == 1
    assert "connection broken (truncated or malformed answer)" in caught.value.message


def test_timeout_is_transient() -> None:
    stall = threading.Event()

    def hang(conn: socket.socket) -> None:
        stall.wait(2)

    with raw_server(hang) as url:
        with (
            TaxiiClient(url, retries=1, timeout=0.3, sleep=lambda _: None) as client,
            pytest.raises(PeerError) as caught,
        ):
            client.discover()
        stall.set()
    assert caught.value.transient
    assert "timed out after 0.3 s" in caught.value.message


def test_401_is_not_transient_and_not_retried() -> None:
    peer = FakePeer()
    peer.faults.append(
        taxii(
            {
                "title": "Unauthorized",
                "description": "the token is unknown or revoked",
                "http_status": "401",
            },
            401,
        )  # fmt: skip
    )
    sleeps: list[float] = []
    with fake_client(peer, sleeps) as client, pytest.raises(PeerError) as caught:
        client.discover()
    err = caught.value
    assert (err.transient, err.status, err.retry_after) == (False, 401, None)
    assert err.message == (
        f"GET {DISCOVERY}: HTTP 401 Unauthorized: Unauthorized: the token is unknown or revoked"
    )
    assert sleeps == [] and len(peer.requests) == 1


def test_credentials_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    password = "hunter2-" + uuid.uuid4().hex
    for creds in (Credentials(token=TOKEN), Credentials(user="ann", password=password)):
        for text in (repr(creds), str(creds), f"{creds}", repr(TaxiiClient(DISCOVERY, creds))):
            assert TOKEN not in text and password not in text
    assert repr(Credentials(user="ann", password=password)) == (
        "Credentials(user='ann', password=<hidden>)"
    )

    # a hostile or careless server echoing the Authorization header back
    def echo(request: httpx.Request) -> httpx.Response:
        said = request.headers.get("Authorization", "")
        status = 503 if request.url.path == "/api1/" else 400
        return taxii({"title": "Echo", "description": f"you sent {said}"}, status)

    basic = base64.b64encode(f"ann:{password}".encode()).decode()
    for creds in (Credentials(token=TOKEN), Credentials(user="ann", password=password)):
        for ask in ("discover", "api_root_information"):
            client = TaxiiClient(
                DISCOVERY, creds, api_root="api1", transport=httpx.MockTransport(echo),
                retries=1, sleep=lambda _: None,
            )  # fmt: skip
            with caplog.at_level(logging.DEBUG), pytest.raises(PeerError) as caught:
                getattr(client, ask)()
            client.close()
            shown = caught.value.message + " ".join(r.getMessage() for r in caplog.records)
            assert "you sent" in shown and "<hidden>" in caught.value.message
            for secret in (TOKEN, password, basic):
                assert secret not in shown


def test_observables_count_once_in_the_outcome(tansiq: tuple[Instance, LiveServer]) -> None:
    """An SCO has no version of its own: the peer names it with the version it assigned,
    and the client must not count it a second time as an unnamed success."""
    inst, server = tansiq
    cid = fresh_collection(inst)
    scos = [
        {"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{uuid.uuid4()}",
         "value": f"192.0.2.{n}"}
        for n in range(5)
    ]  # fmt: skip
    sdos = malware(900, versions=1, creator=alpha_identity(inst))
    with TaxiiClient(f"{server.url}/taxii2/", Credentials(token=inst.tokens["alice"])) as client:
        outcome = client.add_objects(cid, [*scos, *sdos])
    assert outcome.failures == [] and outcome.pendings == []
    assert len(outcome.successes) == len(scos) + len(sdos)
    assert sorted(s["id"] for s in outcome.successes) == sorted(o["id"] for o in [*scos, *sdos])


def test_a_collection_is_resolved_once_per_client(tansiq: tuple[Instance, LiveServer]) -> None:
    inst, server = tansiq
    transport = Recording()
    url = f"{server.url}/taxii2/"
    with TaxiiClient(url, Credentials(token=inst.tokens["alice"]), transport=transport) as client:
        first = client.resolve_collection("shared")
        assert client.resolve_collection("shared") == first
        assert first.id == inst.collections["shared"]
    listings = [u for m, u, _ in transport.seen if u.endswith("/collections/")]
    assert len(listings) == 1
