"""medallion (OASIS's reference TAXII 2.1 server) as a peer of a Tansiq instance, both ways.

Instance X pulls medallion's "intel" collection into its "shared" collection and pushes
"shared" to medallion's "inbox"; X also pulls Y (another Tansiq instance), so that
"shared" holds AMBER that X received from a peer and must not pass on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pytest

from tansiq.access import admin
from tansiq.federation.client import TaxiiClient
from tansiq.federation.peers import Mapping
from tansiq.federation.report import MappingResult, PeerReport
from tansiq.stix.ids import deterministic_sco_id
from tests.federation.medallion_support import MedallionCollection, MedallionServer
from tests.federation.world import (
    ALL_MARKS,
    NOT_RED,
    TLP,
    TRAVELS,
    Agency,
    build_agency,
    indicator,
    keys_of,
    new_version,
    org_of,
    revoke,
    sample,
    vkey,
)

PAGE_CAP = 25  # medallion's max_page_size: the pull pages on with medallion's `next`


class Setup(NamedTuple):
    x: Agency
    y: Agency
    medallion: MedallionServer
    intel: str  # medallion collection ids
    inbox: str


def _medallion_content() -> list[dict[str, Any]]:
    """Versions preloaded in medallion, oldest first: 60 indicators of mixed markings, three
    of them with more versions (one revoked), and an SCO (no 'modified' at all)."""
    objs = [indicator("medallion", ["GREEN", "AMBER", "CLEAR", None][n % 4]) for n in range(60)]
    later = [
        new_version(objs[0], "2026-03-01T00:00:00.000Z"),
        new_version(objs[0], "2026-03-02T00:00:00.000Z"),
        new_version(objs[1], "2026-03-01T00:00:00.000Z"),
        revoke(objs[2], "2026-03-03T00:00:00.000Z"),
    ]
    sco: dict[str, Any] = {"type": "ipv4-addr", "spec_version": "2.1", "value": "198.51.100.7"}
    sco["id"] = deterministic_sco_id(sco)
    return [*objs, *later, sco]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    preloaded = _medallion_content()
    medallion = MedallionServer(
        tmp_path / "medallion",
        [
            MedallionCollection("Intel", alias="intel", objects=preloaded),
            MedallionCollection("Inbox", alias="inbox"),
        ],
        max_page_size=PAGE_CAP,
    ).start()
    x = build_agency(tmp_path, "x", ["m", "y"])
    y = build_agency(tmp_path, "y", ["x"])
    try:
        x.add_peer(y, pull=True, push=False)
        peer = medallion.peer
        org = admin.require_org(x.store, org_of("m"))
        x.registry.add("m", peer.discovery_url, org, peer.credentials, interval=5.0)
        x.registry.add_mapping("m", Mapping("pull", "intel", x.collection))
        x.registry.add_mapping("m", Mapping("push", "inbox", x.collection))
        yield Setup(x, y, medallion, peer.collections["intel"], peer.collections["inbox"])
    finally:
        x.close()
        y.close()
        medallion.stop()


def _sync(x: Agency) -> tuple[MappingResult, MappingResult]:
    """Y first (so that what X received from Y is there), then medallion: pull, push."""
    reports: list[PeerReport] = x.sync("y") + x.sync("m")
    assert all(r.ok for r in reports), [r.errors for r in reports]
    pulled, pushed = reports[1].mappings
    assert (pulled.direction, pushed.direction) == ("pull", "push")
    return pulled, pushed


def _key(obj: dict[str, Any], versions: dict[str, str]) -> tuple[str, str]:
    """(id, version) of an object as medallion holds it; an SCO's version is what Tansiq
    gave it (``versions``: id -> version)."""
    return obj["id"], obj.get("modified") or versions[obj["id"]]


def _held(x: Agency) -> dict[tuple[str, str], dict[str, Any]]:
    return {k: orjson.loads(body) for k, body in x.bodies().items()}


def test_medallion_both_ways_and_incremental(setup: Setup) -> None:
    x, y, medallion = setup.x, setup.y, setup.medallion
    preloaded = _medallion_content()
    x_first, x_later = sample("from X")
    y_first, y_later = sample("from Y")
    x_objects = [*x_first.values(), *x_later]
    y_objects = [*y_first.values(), *y_later]
    x.write(x_objects)
    y.write(y_objects)

    pulled, pushed = _sync(x)

    # pull: every version of medallion's collection, each once, as medallion holds it
    in_medallion = medallion.stored(setup.intel)
    assert len(in_medallion) == len(preloaded) == 65
    assert pulled.pages >= len(preloaded) // PAGE_CAP + 1  # medallion's page cap, `next`
    assert (pulled.objects, pulled.added, pulled.invalid) == (65, 65, 0)
    provenance = x.provenance()
    sco_versions = {k[0]: k[1] for k in provenance if k[0].startswith("ipv4-addr--")}
    assert len(sco_versions) == 1
    from_medallion = Counter(_key(o, sco_versions) for o in in_medallion)
    from_y = keys_of(y_objects, NOT_RED)
    assert x.versions() == keys_of(x_objects, ALL_MARKS) + from_y + from_medallion
    held = _held(x)
    for obj in in_medallion:
        k = _key(obj, sco_versions)
        assert held[k] == obj  # identical content
        assert provenance[k] == "m"

    # push: X's own versions but RED, and what came from Y that may travel on (CLEAR,
    # GREEN); not Y's AMBER family (received from a peer), not medallion's own objects
    allowed = keys_of(x_objects, NOT_RED) + keys_of(y_objects, TRAVELS)
    in_inbox = medallion.stored(setup.inbox)
    assert Counter(vkey(o) for o in in_inbox) == allowed
    assert (pushed.objects, pushed.failed) == (sum(allowed.values()), 0)
    for obj in in_inbox:
        assert obj == held[vkey(obj)]  # identical content

    # nothing more to move: a second sync asks again only for the version at the pull
    # cursor's instant (on purpose: medallion's date_added are not unique) and offers none
    pulled, pushed = _sync(x)
    assert (pulled.added, pulled.unchanged, pulled.invalid) == (0, 1, 0)
    assert (pushed.objects, pushed.failed) == (0, 0)
    assert Counter(vkey(o) for o in medallion.stored(setup.inbox)) == allowed

    # incremental: new versions on medallion, on X and on Y move, and only they
    new_remote = [
        new_version(preloaded[3], "2026-04-01T00:00:00.000Z"),
        indicator("medallion new", "GREEN"),
        indicator("medallion new", "AMBER"),
    ]
    with TaxiiClient(medallion.discovery_url, medallion.credentials) as client:
        outcome = client.add_objects(setup.intel, new_remote)
    assert outcome.failures == []
    new_x = [
        new_version(x_first["AMBER"], "2026-04-02T00:00:00.000Z"),
        indicator("from X, new", "GREEN"),
        indicator("from X, new", "RED"),
    ]
    new_y = [indicator("from Y, new", "CLEAR"), indicator("from Y, new", "AMBER+STRICT")]
    x.write(new_x)
    y.write(new_y)
    pulled, pushed = _sync(x)
    assert (pulled.added, pulled.unchanged, pulled.invalid) == (3, 1, 0)
    newly_allowed = keys_of(new_x, NOT_RED) + keys_of(new_y, TRAVELS)
    assert (pushed.objects, pushed.failed) == (sum(newly_allowed.values()), 0)
    assert Counter(vkey(o) for o in medallion.stored(setup.inbox)) == allowed + newly_allowed
    held = _held(x)
    for obj in new_remote:
        assert held[vkey(obj)] == obj
    assert x.versions() == (
        keys_of(x_objects + new_x, ALL_MARKS)
        + keys_of(y_objects + new_y, NOT_RED)
        + from_medallion
        + Counter(vkey(o) for o in new_remote)
    )
    # medallion never received a RED version, nor anything that came from it
    pushed_ids = {o["id"] for o in medallion.stored(setup.inbox)}
    assert not pushed_ids & {o["id"] for o in [*in_medallion, *new_remote]}
    assert all(
        TLP["RED"] not in o.get("object_marking_refs", []) for o in medallion.stored(setup.inbox)
    )
    # the peer's status: a clean last sync, nothing refused, nothing behind
    status = x.registry.status("m")
    assert status["last_error"] is None and status["failures"] == 0
