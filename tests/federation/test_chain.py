"""Three instances in a chain A -> B -> C: exact sets per marking at every hop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.federation.world import Agency, build_agency, indicator, new_version


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[tuple[Agency, Agency, Agency]]:
    a = build_agency(tmp_path, "a", ["b"])
    b = build_agency(tmp_path, "b", ["a", "c"])
    c = build_agency(tmp_path, "c", ["b"])
    try:
        yield a, b, c
    finally:
        for agency in (a, b, c):
            agency.close()


def test_chain_pull_then_push_respects_hops(chain: tuple[Agency, Agency, Agency]) -> None:
    a, b, c = chain
    b.add_peer(a, pull=True, push=False)  # B pulls A's shared collection
    b.add_peer(c, pull=False, push=True)  # B pushes its shared collection to C
    marks = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED", None]
    at_a = {m: indicator("from A", m) for m in marks}
    a.write(list(at_a.values()))
    revised = new_version(at_a["GREEN"], "2026-02-01T00:00:00.000Z")
    a.write([revised])
    at_b = {m: indicator("from B", m) for m in marks}
    b.write(list(at_b.values()))

    # peers sync in parallel: pull from A first so that the push to C has it
    reports = b.sync("a") + b.sync("c")
    assert all(r.ok for r in reports), [r.errors for r in reports]

    def ids(agency: Agency) -> set[str]:
        return {oid for oid, _ in agency.versions()}

    # default marking is AMBER: unmarked content counts as AMBER
    a_to_b = {at_a[m]["id"] for m in ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", None)}
    assert ids(b) == a_to_b | {o["id"] for o in at_b.values()}
    # both versions of the revised GREEN object travel
    assert b.versions()[(revised["id"], revised["modified"])] == 1
    assert b.versions()[(revised["id"], at_a["GREEN"]["modified"])] == 1
    # C: what B wrote (one hop, RED excepted) and what A wrote that may travel on
    from_b = {at_b[m]["id"] for m in ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", None)}
    from_a = {at_a[m]["id"] for m in ("CLEAR", "GREEN")}
    assert ids(c) == from_b | from_a
    # no duplicates anywhere; identical bytes for each version
    for agency in (b, c):
        assert all(n == 1 for n in agency.versions().values())
    for key, body in c.bodies().items():
        source = a.bodies().get(key) or b.bodies()[key]
        assert body == source
    # provenance: pulled versions name the peer; pushed ones the sync account
    assert {b.provenance()[(o["id"], o["modified"])] for o in at_b.values()} == {None}
    assert b.provenance()[(at_a["CLEAR"]["id"], at_a["CLEAR"]["modified"])] == "a"
    assert c.provenance()[(at_b["GREEN"]["id"], at_b["GREEN"]["modified"])] == "sync:sync-b"

    # a second sync moves nothing new and duplicates nothing
    before_b, before_c = b.versions(), c.versions()
    reports = b.sync()
    assert all(r.ok for r in reports)
    assert b.versions() == before_b and c.versions() == before_c
