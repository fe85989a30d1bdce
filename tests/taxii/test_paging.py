"""Pagination (TAXII 2.1 sections 3.3, 3.4 limit/next, 3.5) over thousands of objects.

One collection of 3,000 objects (3,300 versions) is posted once per module, in envelopes
of 500, and then read back page by page with every page size, with and without filters,
by ``next`` and by ``added_after`` = X-TAXII-Date-Added-Last: nothing is missed, nothing
is repeated, the order is ascending date_added, and every page carries the right headers.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import Instance, LiveServer

from .conftest import Api, ApiFactory, add_collection
from .support import (
    World,
    assert_date_headers,
    assert_error,
    ipv4,
    sdo,
    version_of,
)

COUNTS = {
    "malware": 900,
    "threat-actor": 800,
    "attack-pattern": 700,
    "campaign": 100,
    "ipv4-addr": 500,
}
REVERSIONED = 300  # malware objects that get a second version, posted after everything else
ENVELOPE = 500


@dataclass
class Big:
    api: Api
    versions: list[dict[str, Any]]  # every version, in the order posted (= date_added order)
    records: list[dict[str, Any]]  # the manifest of every version, in date_added order
    by_id: dict[str, list[dict[str, Any]]]  # manifest records of each object

    def date_added(self, obj: dict[str, Any]) -> str:
        """date_added of a returned object version (an SCO has one version: found by id)."""
        for rec in self.by_id[obj["id"]]:
            if "modified" not in obj or rec["version"] == obj["modified"]:
                return str(rec["date_added"])
        raise AssertionError(f"{obj['id']} {obj.get('modified')} is not in the manifest")

    def expected(
        self, pick: Callable[[dict[str, Any]], bool] = lambda o: True, *, every: bool = False
    ) -> list[dict[str, Any]]:
        """Expected versions in date_added order: the latest of each object (or all)."""
        rows = self.versions
        if not every:
            latest: dict[str, str] = {}
            for o in rows:
                v = o.get("modified", "")
                if v >= latest.get(o["id"], ""):
                    latest[o["id"]] = v
            rows = [o for o in rows if o.get("modified", "") == latest[o["id"]]]
        return [o for o in rows if pick(o)]


def key(o: dict[str, Any]) -> tuple[str, str]:
    return o["id"], o.get("modified", "")


@pytest.fixture(scope="module")
def big(live: tuple[Instance, LiveServer]) -> Iterator[Big]:
    inst, server = live
    world = World(inst.store, server.url, inst.tokens, {})
    add_collection(world, "big")
    api = Api(world, f"Bearer {inst.tokens['alice']}", "alice")
    rng = random.Random(2024)
    objs: list[dict[str, Any]] = []
    for stix_type, count in COUNTS.items():
        for i in range(count):
            if stix_type == "ipv4-addr":
                objs.append(ipv4(f"10.{i // 250}.{i % 250}.{rng.randrange(1, 250)}"))
            else:
                objs.append(sdo(stix_type, name=f"{stix_type} {i}"))
    rng.shuffle(objs)
    assert len({o["id"] for o in objs}) == 3000
    malware = [o for o in objs if o["type"] == "malware"][:REVERSIONED]
    v2 = [version_of(o, 3600, name=o["name"] + " v2") for o in malware]
    versions = objs + v2
    for i in range(0, len(versions), ENVELOPE):
        status = api.add("big", versions[i : i + ENVELOPE])
        assert status["failure_count"] == 0, status.get("failures")
    r = api.get(api.manifest_path("big"), {"match[version]": "all", "limit": "10000"})
    body = r.json()
    assert body["more"] is False
    records = body["objects"]
    assert [rec["id"] for rec in records] == [o["id"] for o in versions]
    assert len(records) == 3300
    by_id: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        by_id.setdefault(rec["id"], []).append(rec)
    yield Big(api, versions, records, by_id)
    api.close()


def walk(big: Big, endpoint: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Follow ``next`` to the end, checking every page; returns objects or records."""
    api = big.api
    path = api.objects_path("big") if endpoint == "objects" else api.manifest_path("big")
    limit = int(params["limit"])
    out: list[dict[str, Any]] = []
    pages = list(api.pages(path, params))
    for n, page in enumerate(pages):
        body = page.json()
        items = body.get("objects", [])
        last_page = n == len(pages) - 1
        assert len(items) <= limit
        if not last_page:
            assert body["more"] is True and body["next"], body.keys()
            assert len(items) == limit  # keyset pages are full until the end
        else:
            assert body.get("more", False) is False
            assert "next" not in body
        if items:
            if endpoint == "manifest":
                first, last = items[0]["date_added"], items[-1]["date_added"]
            else:
                first, last = big.date_added(items[0]), big.date_added(items[-1])
            assert_date_headers(page, first, last)
        out.extend(items)
    return out


def assert_same(got: list[dict[str, Any]], expected: list[dict[str, Any]], endpoint: str) -> None:
    if endpoint == "manifest":
        got_keys = [(rec["id"], rec["version"]) for rec in got]
        assert len(got_keys) == len(set(got_keys)), "a record came twice"
        assert [g[0] for g in got_keys] == [o["id"] for o in expected]
        dates = [rec["date_added"] for rec in got]
        assert all(a < b for a, b in zip(dates, dates[1:], strict=False)), "not ascending"
    else:
        dupes = [k for k, c in Counter(key(o) for o in got).items() if c > 1]
        assert not dupes, f"{len(dupes)} versions came twice"
        missing = {key(o) for o in expected} - {key(o) for o in got}
        assert not missing, f"{len(missing)} versions missed"
        assert got == expected


# --------------------------------------------------------------------------- by next


@pytest.mark.parametrize(
    ("endpoint", "limit"),
    [
        ("manifest", 1),
        ("objects", 2),
        ("objects", 7),
        ("manifest", 64),
        ("objects", 999),
        ("objects", 1000),
        ("objects", 2999),
        ("objects", 3000),
        ("manifest", 10000),
    ],
)
def test_every_page_size_returns_each_object_once(big: Big, endpoint: str, limit: int) -> None:
    got = walk(big, endpoint, {"limit": str(limit)})
    assert_same(got, big.expected(), endpoint)


def test_default_page_size_is_the_server_limit(big: Big) -> None:
    r = big.api.get(big.api.objects_path("big"))
    body = r.json()
    assert len(body["objects"]) == 1000  # Settings.default_page_size
    assert body["more"] is True and body["next"]


def test_limit_above_server_maximum_is_capped_not_refused(big: Big) -> None:
    r = big.api.get(big.api.manifest_path("big"), {"limit": "50000", "match[version]": "all"})
    assert r.status_code == 200
    assert len(r.json()["objects"]) == 3300


FILTERS: list[tuple[str, dict[str, str], Callable[[dict[str, Any]], bool], bool]] = [
    (
        "objects",
        {"match[type]": "malware,threat-actor"},
        lambda o: o["type"] in ("malware", "threat-actor"),
        False,
    ),
    ("manifest", {"match[version]": "all"}, lambda o: True, True),
    (
        "objects",
        {"match[version]": "all", "match[type]": "malware"},
        lambda o: o["type"] == "malware",
        True,
    ),
    ("objects", {"match[type]": "campaign"}, lambda o: o["type"] == "campaign", False),
    (
        "manifest",
        {"match[type]": "ipv4-addr", "match[spec_version]": "2.1"},
        lambda o: o["type"] == "ipv4-addr",
        False,
    ),
    (
        "objects",
        {"match[version]": "first", "match[type]": "malware"},
        lambda o: o["type"] == "malware" and "v2" not in o["name"],
        True,
    ),
]


CASES = [(f, limit) for f in FILTERS for limit in (37, 500)] + [(FILTERS[3], 1)]


@pytest.mark.parametrize(("case", "limit"), CASES, ids=[f"{c[1]}-limit{n}" for c, n in CASES])
def test_paging_with_filters(big: Big, case: tuple[Any, ...], limit: int) -> None:
    endpoint, params, pick, every = case
    expected = big.expected(pick, every=every)
    got = walk(big, endpoint, {**params, "limit": str(limit)})
    assert_same(got, expected, endpoint)


def test_paging_with_added_after_and_next(big: Big) -> None:
    cut = big.records[1234]["date_added"]
    got = walk(big, "manifest", {"added_after": cut, "match[version]": "all", "limit": "250"})
    assert [rec["date_added"] for rec in got] == [rec["date_added"] for rec in big.records[1235:]]


# --------------------------------------------------------------------------- by added_after


@pytest.mark.parametrize(
    ("endpoint", "params", "every"),
    [
        ("objects", {}, False),
        ("manifest", {"match[version]": "all"}, True),
        ("objects", {"match[type]": "malware", "match[version]": "all"}, True),
    ],
)
def test_paging_by_date_added_last_header_misses_nothing(
    big: Big, endpoint: str, params: dict[str, str], every: bool
) -> None:
    """Section 3.5: added_after = X-TAXII-Date-Added-Last, without next, also walks it all."""
    api = big.api
    path = api.objects_path("big") if endpoint == "objects" else api.manifest_path("big")
    got: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(1000):
        query = {**params, "limit": "333"}
        if after is not None:
            query["added_after"] = after
        r = api.get(path, query)
        assert r.status_code == 200
        items = r.json().get("objects", [])
        if not items:
            assert r.json().get("more", False) is False
            break
        got.extend(items)
        after = r.headers["x-taxii-date-added-last"]
    else:
        raise AssertionError("never ends")
    pick: Callable[[dict[str, Any]], bool] = (
        (lambda o: o["type"] == "malware") if "match[type]" in params else (lambda o: True)
    )
    assert_same(got, big.expected(pick, every=every), endpoint)


# --------------------------------------------------------------------------- taxii2-client


def test_taxii2client_as_pages_over_thousands(big: Big) -> None:
    from taxii2client.v21 import Collection, as_pages

    from tests.conftest import PASSWORD

    url = big.api.base_url + big.api.coll("big")
    coll = Collection(url, user="alice", password=PASSWORD)
    try:
        got: list[dict[str, Any]] = []
        sizes = []
        for envelope in as_pages(coll.get_objects, per_request=700):
            sizes.append(len(envelope.get("objects", [])))
            got.extend(envelope.get("objects", []))
        assert sizes == [700, 700, 700, 700, 200]
        assert_same(got, big.expected(), "objects")
        records: list[dict[str, Any]] = []
        for manifest in as_pages(coll.get_manifest, per_request=1000, version="all"):
            records.extend(manifest.get("objects", []))
        assert records == big.records
    finally:
        coll.close()


# --------------------------------------------------------------------------- concurrent writes


def test_paging_while_objects_are_being_added(alice: Api, world: World) -> None:
    """Objects and versions added between pages never make a page miss or repeat one."""
    rng = random.Random(7)
    initial = [sdo("malware", name=f"i{i}") for i in range(1000)]
    for i in range(0, 1000, 500):
        alice.add("shared", initial[i : i + 500])
    path = alice.objects_path("shared")
    seen: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    updated: dict[str, dict[str, Any]] = {}
    query: dict[str, str] = {"limit": "100"}
    for _ in range(1000):
        r = alice.get(path, query)
        assert r.status_code == 200
        body = r.json()
        seen.extend(body.get("objects", []))
        if not body["more"]:
            break
        query = {"limit": "100", "next": body["next"]}
        # between pages: new objects, and new versions of objects not read yet
        fresh = [sdo("campaign", name=f"n{len(added) + j}") for j in range(30)]
        seen_ids = {o["id"] for o in seen}
        unseen = [o for o in initial if o["id"] not in seen_ids and o["id"] not in updated]
        bumps = [
            version_of(o, 60, name=o["name"] + " v2")
            for o in rng.sample(unseen, min(5, len(unseen)))
        ]
        alice.add("shared", fresh + bumps)
        added.extend(fresh)
        updated.update({b["id"]: b for b in bumps})
    else:
        raise AssertionError("never ends")
    counts = Counter(o["id"] for o in seen)
    assert [i for i, c in counts.items() if c > 1] == [], "an object came twice"
    expected_ids = {o["id"] for o in initial} | {o["id"] for o in added}
    assert set(counts) == expected_ids, "an object was missed"
    by_id = {o["id"]: o for o in seen}
    for oid, latest in updated.items():
        assert by_id[oid] == latest  # the version read is the latest one
    assert len(seen) == 1000 + len(added)


def test_paging_while_another_client_writes_at_the_same_time(alice: Api, api: ApiFactory) -> None:
    initial = [sdo("malware", name=f"i{i}") for i in range(800)]
    alice.add("shared", initial)
    writer = api("alice")
    written: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for n in range(40):
                batch = [sdo("campaign", name=f"w{n}-{j}") for j in range(20)]
                writer.add("shared", batch)
                written.extend(batch)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        seen = [
            o
            for page in alice.pages(alice.objects_path("shared"), {"limit": "50"})
            for o in page.json().get("objects", [])
        ]
    finally:
        thread.join()
    assert errors == []
    counts = Counter(o["id"] for o in seen)
    assert [i for i, c in counts.items() if c > 1] == [], "an object came twice"
    assert {o["id"] for o in initial} <= set(counts), "an object stored before paging was missed"
    assert set(counts) <= {o["id"] for o in initial} | {o["id"] for o in written}
    # what the concurrent writer added is all there once it is done
    assert len(alice.manifest("shared")) == 800 + 40 * 20


# --------------------------------------------------------------------------- next tokens


@pytest.fixture
def token(alice: Api) -> str:
    alice.add("shared", [sdo("malware", name=f"t{i}") for i in range(5)])
    body = alice.get(alice.objects_path("shared"), {"limit": "2"}).json()
    assert body["more"] is True
    tok: str = body["next"]
    return tok


def flip(text: str, at: int) -> str:
    c = text[at]
    return text[:at] + ("A" if c != "A" else "B") + text[at + 1 :]


def test_next_token_continues_the_same_query(alice: Api, token: str) -> None:
    r = alice.get(alice.objects_path("shared"), {"limit": "2", "next": token})
    assert r.status_code == 200
    first = alice.get(alice.objects_path("shared"), {"limit": "4"}).json()["objects"]
    assert r.json()["objects"] == first[2:4]


def test_next_token_with_another_limit_is_fine(alice: Api, token: str) -> None:
    r = alice.get(alice.objects_path("shared"), {"limit": "10", "next": token})
    assert r.status_code == 200
    body = r.json()
    assert len(body["objects"]) == 3 and body["more"] is False


def test_next_token_works_for_the_same_user_with_basic(
    api: ApiFactory, alice: Api, token: str
) -> None:
    basic = api("alice", scheme="basic")
    r = basic.get(basic.objects_path("shared"), {"limit": "2", "next": token})
    assert r.status_code == 200
    assert len(r.json()["objects"]) == 2


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_tampered_next_token_is_400(alice: Api, token: str, where: str) -> None:
    at = {"start": 0, "middle": len(token) // 2, "end": len(token) - 1}[where]
    assert_error(
        alice.get(alice.objects_path("shared"), {"limit": "2", "next": flip(token, at)}), 400
    )


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-4], lambda t: t + "AAAA", lambda t: t[::-1], lambda t: t.upper()]
)
def test_mangled_next_token_is_400(alice: Api, token: str, mangle: Callable[[str], str]) -> None:
    assert_error(
        alice.get(alice.objects_path("shared"), {"limit": "2", "next": mangle(token)}), 400
    )


@pytest.mark.parametrize("user", ["rita", "bob", "root"])
def test_next_token_of_another_user_is_400(api: ApiFactory, token: str, user: str) -> None:
    other = api(user)
    assert other.get(other.objects_path("shared"), {"limit": "2"}).status_code == 200
    assert_error(other.get(other.objects_path("shared"), {"limit": "2", "next": token}), 400)


@pytest.mark.parametrize(
    "params",
    [
        {"match[type]": "malware"},
        {"match[version]": "all"},
        {"match[spec_version]": "2.1"},
        {"added_after": "2000-01-01T00:00:00.000000Z"},
        {"match[id]": "malware--5a4ba5e9-3d2c-4e4c-9f5b-0c9b4d8a1f3e"},
    ],
)
def test_next_token_with_other_filters_is_400(
    alice: Api, token: str, params: dict[str, str]
) -> None:
    r = alice.get(alice.objects_path("shared"), {**params, "limit": "2", "next": token})
    assert_error(r, 400)


def test_next_token_on_another_endpoint_is_400(alice: Api, token: str) -> None:
    assert_error(alice.get(alice.manifest_path("shared"), {"limit": "2", "next": token}), 400)
    oid = alice.objects("shared")[0]["id"]
    assert_error(alice.get(alice.object_path("shared", oid), {"next": token}), 400)
    assert_error(alice.get(alice.versions_path("shared", oid), {"next": token}), 400)


def test_manifest_token_on_objects_is_400(alice: Api, token: str) -> None:
    body = alice.get(alice.manifest_path("shared"), {"limit": "2"}).json()
    assert_error(alice.get(alice.objects_path("shared"), {"limit": "2", "next": body["next"]}), 400)


def test_next_token_on_another_collection_is_400(alice: Api, token: str) -> None:
    alice.add("alpha-only", [sdo("malware") for _ in range(5)])
    assert_error(alice.get(alice.objects_path("alpha-only"), {"limit": "2", "next": token}), 400)


def test_next_token_given_twice_is_400(alice: Api, token: str) -> None:
    # section 3.4: next is "a single string value"
    r = alice.get(alice.objects_path("shared"), [("limit", "2"), ("next", token), ("next", token)])
    assert_error(r, 400)


def test_next_token_of_anonymous_caller_is_not_usable_by_a_user(
    alice: Api, anon: Api, api: ApiFactory
) -> None:
    from .support import TLP_CLEAR

    alice.add("public", [sdo("indicator", marking=TLP_CLEAR) for _ in range(4)])
    body = anon.get(anon.objects_path("public"), {"limit": "2"}).json()
    assert body["more"] is True
    assert (
        anon.get(anon.objects_path("public"), {"limit": "2", "next": body["next"]}).status_code
        == 200
    )
    assert_error(alice.get(alice.objects_path("public"), {"limit": "2", "next": body["next"]}), 400)


def test_next_token_needs_no_url_escaping(token: str) -> None:
    assert all(c.isascii() and (c.isalnum() or c in "-_.~") for c in token), token
