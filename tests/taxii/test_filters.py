"""Filtering (TAXII 2.1 section 3.4): added_after, limit, match[id|type|version|spec_version].

Every malformed filter is a 400 (section 3.4: "If any of the URL query parameters are
malformed, the TAXII Server MUST return an HTTP 400").
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api
from .support import assert_date_headers, assert_error, ipv4, sdo, sid, version_of

ENDPOINTS = ["objects", "manifest"]


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


def listing(alice: Api, endpoint: str, params: dict[str, str]) -> list[dict[str, Any]]:
    if endpoint == "objects":
        return alice.objects("shared", params)
    return alice.manifest("shared", params)


class Data:
    """Three malware (one with three versions), two indicators, one campaign, two SCOs."""

    def __init__(self, alice: Api) -> None:
        self.m1 = sdo("malware", name="m1")
        self.m1v2 = version_of(self.m1, 60, name="m1 v2")
        self.m1v3 = version_of(self.m1, 120, name="m1 v3")
        self.m2 = sdo("malware", name="m2")
        self.i1 = sdo("indicator")
        self.i2 = sdo("indicator", modified="2023-01-01T00:00:00.000Z")
        self.c1 = sdo("campaign")
        self.ip1 = ipv4("192.0.2.1")
        self.ip2 = ipv4("192.0.2.2")
        alice.add("shared", [self.m1, self.i1, self.ip1])
        alice.add("shared", [self.m2, self.m1v2, self.c1])
        alice.add("shared", [self.i2, self.ip2, self.m1v3])
        # in date_added order: m1 i1 ip1 m2 m1v2 c1 i2 ip2 m1v3
        self.latest = [self.i1, self.ip1, self.m2, self.c1, self.i2, self.ip2, self.m1v3]
        self.all = [
            self.m1,
            self.i1,
            self.ip1,
            self.m2,
            self.m1v2,
            self.c1,
            self.i2,
            self.ip2,
            self.m1v3,
        ]


@pytest.fixture
def data(alice: Api) -> Data:
    return Data(alice)


# --------------------------------------------------------------------------- match[type]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_match_type(alice: Api, data: Data, endpoint: str) -> None:
    got = listing(alice, endpoint, {"match[type]": "malware"})
    assert ids(got) == [data.m2["id"], data.m1v3["id"]]
    got = listing(alice, endpoint, {"match[type]": "indicator,campaign"})
    assert ids(got) == ids([data.i1, data.c1, data.i2])
    got = listing(alice, endpoint, {"match[type]": "ipv4-addr"})
    assert ids(got) == ids([data.ip1, data.ip2])


def test_match_type_objects_bodies(alice: Api, data: Data) -> None:
    assert alice.objects("shared", {"match[type]": "malware"}) == [data.m2, data.m1v3]


@pytest.mark.parametrize(
    "stix_type",
    ["x509-certificate", "course-of-action", "marking-definition", "x-acme-widget", "grouping"],
)
def test_match_type_on_absent_stix_types_is_no_error(
    alice: Api, data: Data, stix_type: str
) -> None:
    # section 3.4.1: requests for STIX 2.1 types MUST NOT be an error due to an invalid type
    r = alice.get(alice.objects_path("shared"), {"match[type]": stix_type})
    assert r.status_code == 200
    assert r.json() == {"more": False}


# --------------------------------------------------------------------------- match[id]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_match_id(alice: Api, data: Data, endpoint: str) -> None:
    got = listing(alice, endpoint, {"match[id]": data.m1["id"]})
    assert ids(got) == [data.m1["id"]]
    both = f"{data.c1['id']},{data.ip1['id']}"
    assert ids(listing(alice, endpoint, {"match[id]": both})) == ids([data.ip1, data.c1])
    unknown = f"{sid('malware')},{data.i2['id']}"
    assert ids(listing(alice, endpoint, {"match[id]": unknown})) == [data.i2["id"]]


def test_match_id_and_type_are_anded(alice: Api, data: Data) -> None:
    params = {"match[id]": f"{data.m2['id']},{data.i1['id']}", "match[type]": "malware"}
    assert alice.objects("shared", params) == [data.m2]
    params = {"match[id]": data.m2["id"], "match[type]": "indicator"}
    assert alice.objects("shared", params) == []


# --------------------------------------------------------------------------- match[version]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_match_version_keywords(alice: Api, data: Data, endpoint: str) -> None:
    assert ids(listing(alice, endpoint, {})) == ids(data.latest)
    assert ids(listing(alice, endpoint, {"match[version]": "last"})) == ids(data.latest)
    assert ids(listing(alice, endpoint, {"match[version]": "all"})) == ids(data.all)
    first = [o for o in data.all if o not in (data.m1v2, data.m1v3)]
    assert ids(listing(alice, endpoint, {"match[version]": "first"})) == ids(first)
    firstlast = [o for o in data.all if o is not data.m1v2]
    assert ids(listing(alice, endpoint, {"match[version]": "first,last"})) == ids(firstlast)


def test_match_version_bodies(alice: Api, data: Data) -> None:
    got = alice.objects("shared", {"match[version]": "all", "match[id]": data.m1["id"]})
    assert got == [data.m1, data.m1v2, data.m1v3]
    got = alice.objects("shared", {"match[version]": "first", "match[id]": data.m1["id"]})
    assert got == [data.m1]


def test_match_version_exact_timestamps(alice: Api, data: Data) -> None:
    # one exact version
    got = alice.objects("shared", {"match[version]": data.m1v2["modified"]})
    assert got == [data.m1v2]
    # a comma list of exact versions (OR), across objects
    exact = f"{data.m1['modified']},{data.i2['modified']}"
    got = alice.objects("shared", {"match[version]": exact})
    # m1 (created == ts(0)) shares its modified with every version-1 object built at ts(0)
    expected = [
        o for o in data.all if o.get("modified") in (data.m1["modified"], data.i2["modified"])
    ]
    assert got == expected
    # keywords and exact values together
    got = alice.objects(
        "shared",
        {"match[version]": f"{data.m1v2['modified']},last", "match[type]": "malware"},
    )
    assert got == [data.m2, data.m1v2, data.m1v3]


def test_match_version_exact_manifest(alice: Api, data: Data) -> None:
    recs = alice.manifest("shared", {"match[version]": data.m1v3["modified"]})
    assert [(r["id"], r["version"]) for r in recs] == [(data.m1["id"], data.m1v3["modified"])]


def test_match_version_exact_without_match_is_empty(alice: Api, data: Data) -> None:
    r = alice.get(alice.objects_path("shared"), {"match[version]": "1999-09-09T09:09:09.999Z"})
    assert r.status_code == 200
    assert r.json() == {"more": False}


# --------------------------------------------------------------------------- match[spec_version]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_match_spec_version(alice: Api, data: Data, endpoint: str) -> None:
    assert ids(listing(alice, endpoint, {"match[spec_version]": "2.1"})) == ids(data.latest)
    assert ids(listing(alice, endpoint, {"match[spec_version]": "2.0,2.1"})) == ids(data.latest)
    assert listing(alice, endpoint, {"match[spec_version]": "2.0"}) == []


# --------------------------------------------------------------------------- added_after


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_added_after_is_strictly_after(alice: Api, data: Data, endpoint: str) -> None:
    recs = alice.manifest("shared", {"match[version]": "all"})
    assert ids(recs) == ids(data.all)
    for k in (0, 3, 7):
        got = listing(
            alice, endpoint, {"added_after": recs[k]["date_added"], "match[version]": "all"}
        )
        assert ids(got) == ids(data.all[k + 1 :]), k
    last = recs[-1]["date_added"]
    assert listing(alice, endpoint, {"added_after": last}) == []


def test_added_after_headers(alice: Api, data: Data) -> None:
    recs = alice.manifest("shared", {"match[version]": "all"})
    r = alice.get(
        alice.objects_path("shared"),
        {"added_after": recs[2]["date_added"], "match[version]": "all"},
    )
    assert_date_headers(r, recs[3]["date_added"], recs[-1]["date_added"])


def test_added_after_long_ago_returns_everything(alice: Api, data: Data) -> None:
    got = alice.objects("shared", {"added_after": "2000-01-01T00:00:00.000000Z"})
    assert got == data.latest


def test_added_after_in_the_future_returns_nothing(alice: Api, data: Data) -> None:
    r = alice.get(alice.objects_path("shared"), {"added_after": "2999-01-01T00:00:00.000000Z"})
    assert r.status_code == 200
    assert r.json() == {"more": False}


def test_added_after_with_type_and_version(alice: Api, data: Data) -> None:
    recs = alice.manifest("shared", {"match[version]": "all"})
    params = {
        "added_after": recs[0]["date_added"],
        "match[type]": "malware",
        "match[version]": "all",
    }
    assert alice.objects("shared", params) == [data.m2, data.m1v2, data.m1v3]


# --------------------------------------------------------------------------- limit


def test_limit_caps_the_page(alice: Api, data: Data) -> None:
    r = alice.get(alice.objects_path("shared"), {"limit": "2"})
    body = r.json()
    assert body["objects"] == data.latest[:2]
    assert body["more"] is True
    assert isinstance(body["next"], str) and body["next"]


def test_limit_equal_to_the_count_has_no_more(alice: Api, data: Data) -> None:
    body = alice.get(alice.objects_path("shared"), {"limit": str(len(data.latest))}).json()
    assert body["objects"] == data.latest
    assert body["more"] is False
    assert "next" not in body


def test_huge_limit_returns_everything(alice: Api, data: Data) -> None:
    body = alice.get(alice.objects_path("shared"), {"limit": "999999999999"}).json()
    assert body["objects"] == data.latest
    assert body["more"] is False


# --------------------------------------------------------------------------- malformed filters

UUID = "5a4ba5e9-3d2c-4e4c-9f5b-0c9b4d8a1f3e"

MALFORMED: list[tuple[str, str]] = [
    ("added_after", "yesterday"),
    ("added_after", "2021-01-01"),
    ("added_after", "2021-13-01T00:00:00.000000Z"),
    ("added_after", "2021-02-30T00:00:00.000000Z"),
    ("added_after", "2021-01-01T25:00:00.000000Z"),
    ("added_after", "2021-01-01T00:00:00.000000"),
    ("added_after", "2021-01-01T00:00:00.000000+01:00"),
    ("added_after", "1614600000"),
    ("added_after", ""),
    ("limit", "0"),
    ("limit", "-1"),
    ("limit", "abc"),
    ("limit", "1.5"),
    ("limit", "1e3"),
    ("limit", ""),
    ("limit", " 5"),
    ("limit", "\u00b2"),  # SUPERSCRIPT TWO: str.isdigit() is true, int() refuses it
    ("match[version]", "2021-01-01"),
    ("match[version]", "newest"),
    ("match[version]", "LAST"),
    ("match[version]", ""),
    ("match[version]", "last,"),
    ("match[version]", "2021-01-01T00:00:00.000Z,bogus"),
    ("match[id]", "indicator"),
    ("match[id]", "indicator--1234"),
    ("match[id]", f"--{UUID}"),
    ("match[id]", f"Indicator--{UUID}"),
    ("match[id]", ""),
    ("match[id]", f"indicator--{UUID},"),
    ("match[type]", "Indicator"),
    ("match[type]", f"indicator--{UUID}"),
    ("match[type]", "has space"),
    ("match[type]", "x"),
    ("match[type]", "bad_underscore!"),
    ("match[type]", ""),
    ("match[type]", "indicator,,malware"),
    ("match[spec_version]", "two"),
    ("match[spec_version]", "2"),
    ("match[spec_version]", "2.1.0"),
    ("match[spec_version]", ""),
    ("next", "garbage"),
    ("next", ""),
    ("next", "AAAA"),
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("name", "value"), MALFORMED, ids=[f"{n}={v!r}" for n, v in MALFORMED])
def test_malformed_filter_is_400(alice: Api, endpoint: str, name: str, value: str) -> None:
    path = alice.objects_path("shared") if endpoint == "objects" else alice.manifest_path("shared")
    assert_error(alice.get(path, {name: value}), 400)


OBJECT_MALFORMED = [
    (n, v) for n, v in MALFORMED if n in ("added_after", "limit", "match[version]", "next")
]


@pytest.mark.parametrize(
    ("name", "value"), OBJECT_MALFORMED, ids=[f"{n}={v!r}" for n, v in OBJECT_MALFORMED]
)
def test_malformed_filter_on_one_object_is_400(alice: Api, name: str, value: str) -> None:
    obj = sdo("malware")
    alice.add("shared", [obj])
    assert_error(alice.get(alice.object_path("shared", obj["id"]), {name: value}), 400)


@pytest.mark.parametrize(
    ("name", "value"),
    [(n, v) for n, v in MALFORMED if n in ("added_after", "limit", "next", "match[spec_version]")],
)
def test_malformed_filter_on_versions_is_400(alice: Api, name: str, value: str) -> None:
    obj = sdo("malware")
    alice.add("shared", [obj])
    assert_error(alice.get(alice.versions_path("shared", obj["id"]), {name: value}), 400)


# Repeated parameters. Section 3.4: added_after "MUST NOT have more than one instance";
# limit and next are "a single" value; "each <field> MUST NOT occur more than once in a
# request"; match[version]: "each keyword ... MUST NOT occur more than once" and "all
# MUST NOT be used with any other version parameter".
REPEATED: list[list[tuple[str, str]]] = [
    [
        ("added_after", "2021-01-01T00:00:00.000000Z"),
        ("added_after", "2022-01-01T00:00:00.000000Z"),
    ],
    [("limit", "5"), ("limit", "6")],
    [("match[type]", "malware"), ("match[type]", "indicator")],
    [("match[id]", f"malware--{UUID}"), ("match[id]", f"indicator--{UUID}")],
    [("match[version]", "first"), ("match[version]", "last")],
    [("match[spec_version]", "2.1"), ("match[spec_version]", "2.0")],
    [("match[version]", "all,first")],
    [("match[version]", "last,all")],
    [("match[version]", "last,last")],
    [("match[version]", "2021-03-01T12:00:00.000Z,2021-03-01T12:00:00.000Z")],
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "params", REPEATED, ids=["&".join(f"{k}={v}" for k, v in p) for p in REPEATED]
)
def test_repeated_or_contradictory_filter_is_400(
    alice: Api, data: Data, endpoint: str, params: list[tuple[str, str]]
) -> None:
    path = alice.objects_path("shared") if endpoint == "objects" else alice.manifest_path("shared")
    assert_error(alice.get(path, params), 400)
