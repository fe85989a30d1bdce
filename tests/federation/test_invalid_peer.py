"""A peer that sends invalid STIX: the valid objects are kept, the invalid ones rejected
one by one and reported (sync report, registry, ``tansiq peer status``), and the cursor
moves on. The peer is a small TAXII 2.1 server (Starlette) served by uvicorn on loopback.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tansiq.access import admin
from tansiq.federation.client import Credentials
from tansiq.federation.peers import Mapping
from tests.cli.conftest import Tansiq
from tests.conftest import free_port
from tests.federation.world import Agency, build_agency, indicator, org_of, vkey

TAXII_21 = "application/taxii+json;version=2.1"
COLLECTION = "9a1d0c0e-52c4-4c1b-9e0b-7f6a1f3c2d10"
PAGE_CAP = 4
BASE = datetime(2026, 5, 1, tzinfo=UTC)


def _stamp(n: int) -> str:
    return (BASE + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class BadFeed:
    """A TAXII 2.1 server with one readable collection 'feed' whose objects are a mix of
    valid and invalid STIX. Pages hold at most PAGE_CAP objects; a page answers ``next``
    only when asked without one, so that paging alternates between following ``next``
    and asking again with added_after = X-TAXII-Date-Added-Last (both are conformant)."""

    token: str
    entries: list[tuple[str, Any]] = field(default_factory=list)  # (date_added, object)
    requests: list[dict[str, str]] = field(default_factory=list)  # objects queries

    def add(self, objects: list[Any]) -> None:
        for obj in objects:
            self.entries.append((_stamp(len(self.entries)), obj))

    def app(self, base_url: str) -> Starlette:
        def taxii(body: Any, headers: dict[str, str] | None = None, status: int = 200) -> Response:
            return Response(orjson.dumps(body), status, headers, media_type=TAXII_21)

        def authorised(request: Request) -> bool:
            return request.headers.get("Authorization") == f"Bearer {self.token}"

        async def discovery(request: Request) -> Response:
            root = f"{base_url}/api/"
            return taxii({"title": "bad feed", "default": root, "api_roots": [root]})

        async def api_root(request: Request) -> Response:
            if not authorised(request):
                return taxii({"title": "unauthorised"}, status=401)
            return taxii(
                {"title": "bad feed root", "versions": [TAXII_21], "max_content_length": 10**7}
            )

        async def collections(request: Request) -> Response:
            if not authorised(request):
                return taxii({"title": "unauthorised"}, status=401)
            coll = {
                "id": COLLECTION,
                "title": "Feed",
                "alias": "feed",
                "can_read": True,
                "can_write": False,
                "media_types": ["application/stix+json;version=2.1"],
            }
            return taxii({"collections": [coll]})

        async def objects(request: Request) -> Response:
            if not authorised(request):
                return taxii({"title": "unauthorised"}, status=401)
            if request.path_params["cid"] != COLLECTION:
                return taxii({"title": "no such collection"}, status=404)
            query = dict(request.query_params)
            self.requests.append(query)
            after = query.get("added_after")
            rows = [(d, o) for d, o in self.entries if after is None or d > after]
            start = int(query["next"]) if "next" in query else 0
            limit = min(int(query.get("limit", PAGE_CAP)), PAGE_CAP)
            page = rows[start : start + limit]
            if not page:
                return taxii({})
            body: dict[str, Any] = {"objects": [o for _, o in page]}
            more = start + limit < len(rows)
            body["more"] = more
            if more and "next" not in query:
                body["next"] = str(start + limit)
            headers = {
                "X-TAXII-Date-Added-First": page[0][0],
                "X-TAXII-Date-Added-Last": page[-1][0],
            }
            return taxii(body, headers)

        return Starlette(
            routes=[
                Route("/taxii2/", discovery),
                Route("/api/", api_root),
                Route("/api/collections/", collections),
                Route("/api/collections/{cid}/objects/", objects),
            ]
        )


class AppServer:
    """uvicorn serving one ASGI app in a background thread."""

    def __init__(self, feed: BadFeed) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            feed.app(self.url), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> AppServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _invalid() -> list[tuple[dict[str, Any], str]]:
    """Invalid objects, each with the reason it must be rejected for (or its start)."""
    good = indicator("template", "GREEN")
    no_id = {k: v for k, v in indicator("no id", "GREEN").items() if k != "id"}
    wrong_prefix = {**indicator("prefix", "GREEN"), "id": f"malware--{uuid.uuid4()}"}
    bad_time = {**indicator("time", "GREEN"), "modified": "yesterday"}
    bad_type = {**good, "type": "Not_A_Type", "id": f"Not_A_Type--{uuid.uuid4()}"}
    bad_spec = {**indicator("spec", "GREEN"), "spec_version": "2.2"}
    no_pattern = {k: v for k, v in indicator("pattern", "AMBER").items() if k != "pattern"}
    return [
        (no_id, "<object without id>: property 'id': required property is missing"),
        (
            wrong_prefix,
            f"{wrong_prefix['id']}: property 'id': the identifier prefix 'malware' must be "
            "the object type 'indicator' (§2.9)",
        ),
        ({"hello": "world"}, "<object without id>: property 'type': required property is missing"),
        (
            bad_time,
            f"{bad_time['id']}: property 'modified': must be a UTC timestamp "
            "YYYY-MM-DDTHH:MM:SS.sssZ (§2.16)",
        ),
        (bad_type, f"{bad_type['id']}: property 'type': must be 3-250 characters"),
        (bad_spec, f"{bad_spec['id']}: property 'spec_version': must be \"2.1\""),
        (no_pattern, f"{no_pattern['id']}: property 'pattern': required property is missing"),
    ]


@dataclass
class World:
    x: Agency
    feed: BadFeed
    server: AppServer


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    feed = BadFeed(token=f"feed-{uuid.uuid4().hex}")
    server = AppServer(feed).start()
    x = build_agency(tmp_path, "x", ["f"])
    try:
        org = admin.require_org(x.store, org_of("f"))
        creds = Credentials(token=feed.token)
        x.registry.add("f", f"{server.url}/taxii2/", org, creds, interval=5.0)
        x.registry.add_mapping("f", Mapping("pull", "feed", x.collection))
        yield World(x, feed, server)
    finally:
        x.close()
        server.stop()


def _interleave(valid: list[dict[str, Any]], invalid: list[Any]) -> list[Any]:
    """valid, valid, invalid, valid, valid, invalid...: every page gets some of each."""
    out: list[Any] = []
    bad = iter(invalid)
    for n, obj in enumerate(valid, 1):
        out.append(obj)
        if n % 2 == 0:
            out.extend(b for b in [next(bad, None)] if b is not None)
    out.extend(bad)
    return out


def test_invalid_objects_rejected_valid_kept_cursor_moves(world: World, tmp_path: Path) -> None:
    x, feed = world.x, world.feed
    valid = [indicator("valid", ["GREEN", "AMBER", "CLEAR"][n % 3]) for n in range(12)]
    invalid = _invalid()
    feed.add(_interleave(valid, [obj for obj, _ in invalid]))
    assert len(feed.entries) == 19

    (report,) = x.sync("f")
    assert report.ok, report.errors  # invalid objects are not a failed sync
    (result,) = report.mappings
    assert (result.objects, result.added, result.invalid) == (19, 12, 7)
    assert result.pages == 5  # 19 objects, 4 a page
    # the paging took both roads: `next`, and added_after = X-TAXII-Date-Added-Last
    assert any("next" in q for q in feed.requests)
    assert any("next" not in q and "added_after" in q for q in feed.requests)

    # every valid version kept, with its content, and nothing else
    assert x.versions() == {vkey(o): 1 for o in valid}
    for obj in valid:
        assert orjson.loads(x.bodies()[vkey(obj)]) == obj

    # each invalid object recorded with the reason
    peer = x.registry.get("f")
    (mapping,) = peer.mappings
    rejected = x.registry.rejected(peer, mapping)
    assert rejected["count"] == 7
    assert len(rejected["recent"]) == 7
    for entry, (obj, reason) in zip(rejected["recent"], invalid, strict=True):
        assert entry["reason"].startswith(reason), (entry, reason)
        assert entry["id"] == obj.get("id")
        assert entry["at"]

    # the cursor moved to the last object of the feed, invalid ones included
    cursor = x.registry.cursor(peer, mapping)
    assert cursor["added_after"] == feed.entries[-1][0]
    assert cursor["objects"] == 12  # new versions stored

    # the operator sees them: `tansiq peer status --json` (the database of instance X)
    tansiq = Tansiq(tmp_path / "x" / "tansiq.db")
    shown = tansiq("peer", "status", "f", "--json")
    assert shown.code == 0, shown.err
    (status,) = shown.json()["peers"]
    (m,) = status["mappings"]
    assert m["rejected"] == 7
    assert [r["reason"] for r in m["recent_rejected"]] == [
        e["reason"] for e in rejected["recent"][-5:]
    ]
    assert m["cursor"] == feed.entries[-1][0]
    assert status["last_error"] is None and status["last_success"]
    text = tansiq("peer", "status", "f")
    assert text.code == 0 and "7 invalid objects rejected" in text.out

    # more objects later: only the new ones are asked for and taken; nothing is lost
    feed.requests.clear()
    later_valid = [indicator("later", "GREEN"), indicator("later", "AMBER")]
    later_bad = {**indicator("later bad", "GREEN"), "created": "not a time"}
    feed.add([later_valid[0], later_bad, later_valid[1]])
    (report,) = x.sync("f")
    assert report.ok, report.errors
    (result,) = report.mappings
    assert feed.requests[0]["added_after"] < feed.entries[-4][0] < feed.entries[-3][0]
    # the invalid object at the cursor's instant is asked again (on purpose), and is not
    # reported again
    assert feed.entries[-4][1] is invalid[-1][0]
    assert (result.added, result.invalid, result.unchanged) == (2, 1, 1)
    assert x.versions() == {vkey(o): 1 for o in valid + later_valid}
    rejected = x.registry.rejected(peer, mapping)
    assert rejected["count"] == 8
    assert "created" in rejected["recent"][-1]["reason"]
    assert x.registry.cursor(peer, mapping)["added_after"] == feed.entries[-1][0]

    # and a sync with nothing new reports nothing new
    (report,) = x.sync("f")
    (result,) = report.mappings
    assert (result.added, result.invalid) == (0, 0)
    assert x.registry.rejected(peer, mapping)["count"] == 8


def test_a_non_object_in_a_page_is_rejected_alone(world: World) -> None:
    """A page entry that is not even a JSON object is one invalid object, not a bad page:
    the rest of the page and the pages after it are kept."""
    x, feed = world.x, world.feed
    valid = [indicator("valid", "GREEN") for _ in range(5)]
    feed.add([valid[0], "not an object", valid[1], 42, valid[2], valid[3], None, valid[4]])
    (report,) = x.sync("f")
    assert report.ok, report.errors
    (result,) = report.mappings
    assert (result.objects, result.added, result.invalid, result.pages) == (8, 5, 3, 2)
    assert x.versions() == {vkey(o): 1 for o in valid}
    peer = x.registry.get("f")
    rejected = x.registry.rejected(peer, peer.mappings[0])
    assert rejected["count"] == 3
    assert [e["id"] for e in rejected["recent"]] == [None, None, None]
    assert all("JSON object" in e["reason"] for e in rejected["recent"]), rejected
    assert x.registry.cursor(peer, peer.mappings[0])["added_after"] == feed.entries[-1][0]
