"""Three instances in a triangle, each peered with both others (pull and push): sync
rounds until quiet give exact sets per marking, each version once, no loop."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tansiq.federation.report import PeerReport
from tests.federation.world import (
    ALL_MARKS,
    NOT_RED,
    ONE_HOP,
    TRAVELS,
    Agency,
    Post,
    build_agency,
    from_partner,
    keys_of,
    marking_of,
    moved,
    org_of,
    sample,
    sync_recorded,
    vkey,
)

NAMES = ("a", "b", "c")
MAX_ROUNDS = 5

Triangle = dict[str, Agency]


@pytest.fixture
def triangle(tmp_path: Path) -> Iterator[Triangle]:
    agencies: Triangle = {}
    try:
        for name in NAMES:
            agencies[name] = build_agency(tmp_path, name, [n for n in NAMES if n != name])
        yield agencies
    finally:
        for agency in agencies.values():
            agency.close()


def _write_samples(triangle: Triangle) -> dict[str, list[dict[str, Any]]]:
    """Each agency writes one object per marking and later versions; returns them."""
    written = {}
    for name, agency in triangle.items():
        first, later = sample(f"from {name.upper()}")
        agency.write(list(first.values()))
        agency.write(later)
        written[name] = [*first.values(), *later]
    return written


def _round(triangle: Triangle, posts: list[Post]) -> list[PeerReport]:
    """Every agency syncs every peer, all at once (peers of one agency in parallel too)."""
    with ThreadPoolExecutor(len(triangle)) as pool:
        futures = [pool.submit(sync_recorded, a, posts) for a in triangle.values()]
        reports = [r for f in futures for r in f.result()]
    assert all(r.ok for r in reports), [r.errors for r in reports]
    return reports


def _snapshot(triangle: Triangle) -> dict[str, Counter[tuple[str, str]]]:
    return {name: agency.versions() for name, agency in triangle.items()}


def _until_quiet(triangle: Triangle, posts: list[Post]) -> int:
    """Sync rounds until one changes nothing anywhere; returns how many changed something."""
    for busy in range(MAX_ROUNDS):
        before = _snapshot(triangle)
        _round(triangle, posts)
        if _snapshot(triangle) == before:
            return busy
    pytest.fail(f"still moving objects after {MAX_ROUNDS} rounds: the triangle loops")


def _no_post_back(
    triangle: Triangle, written: dict[str, list[dict[str, Any]]], posts: list[Post]
) -> None:
    """No envelope carried a version back to the peer it came from, nor a TLP:RED one,
    nor an AMBER-family one the sender did not write itself (one hop)."""
    authored = {name: {vkey(o) for o in objects} for name, objects in written.items()}
    for post in posts:
        provenance = triangle[post.sender].provenance()
        for obj in post.objects:
            k = vkey(obj)
            assert not from_partner(provenance[k], post.peer), (post.sender, post.peer, k)
            assert marking_of(obj) != "RED", (post.sender, post.peer, k)
            if marking_of(obj) in ONE_HOP:
                assert k in authored[post.sender], (post.sender, post.peer, k)


def test_triangle_converges_without_loops(triangle: Triangle) -> None:
    for name, agency in triangle.items():
        for partner in NAMES:
            if partner != name:
                agency.add_peer(triangle[partner], pull=True, push=True)
    written = _write_samples(triangle)
    posts: list[Post] = []

    # every link is direct, so one round carries everything; the next changes nothing
    assert _until_quiet(triangle, posts) == 1

    for name, agency in triangle.items():
        expected = keys_of(written[name], ALL_MARKS)
        for other in NAMES:
            if other != name:
                expected += keys_of(written[other], NOT_RED)
        # the exact set, each version stored exactly once (Counter multiplicities)
        assert agency.versions() == expected, name
        provenance = agency.provenance()
        for other in NAMES:
            if other == name:
                continue
            for obj in written[other]:
                mark = marking_of(obj)
                if mark in ONE_HOP:  # only ever straight from its author
                    assert from_partner(provenance[vkey(obj)], other), (name, other, mark)
                elif mark in TRAVELS:  # from its author or through the third instance
                    assert provenance[vkey(obj)] not in (None, name)
        for k, body in agency.bodies().items():  # identical bytes everywhere
            author = next(n for n in NAMES if k in {vkey(o) for o in written[n]})
            assert body == triangle[author].bodies()[k]

    _no_post_back(triangle, written, posts)

    # after convergence another round adds nothing and sends nothing at all
    before = _snapshot(triangle)
    posts.clear()
    reports = _round(triangle, posts)
    assert moved(reports) == (0, 0)
    assert posts == []
    assert _snapshot(triangle) == before


def test_triangle_partner_not_granted_gets_green_through_the_third(triangle: Triangle) -> None:
    """A does not let C's organisation read its collection (C may only drop objects into
    it): C gets A's CLEAR and GREEN through B, never A's AMBER family, while A and B get
    everything of each other's and C's that is not RED."""
    a, b, c = triangle["a"], triangle["b"], triangle["c"]
    c_on_a = a.store.get_org(org_of("c"))
    assert c_on_a is not None
    a.store.set_grant(a.collection, c_on_a.id, False, True)  # write only: a drop box
    a.add_peer(b, pull=True, push=True)
    b.add_peer(a, pull=True, push=True)
    b.add_peer(c, pull=True, push=True)
    c.add_peer(b, pull=True, push=True)
    a.add_peer(c, pull=True, push=False)  # A may not send C anything of its collection
    c.add_peer(a, pull=False, push=True)  # C drops its objects into A's collection
    written = _write_samples(triangle)
    posts: list[Post] = []

    # C's contributions and A's GREEN may travel two hops: at most two busy rounds
    assert _until_quiet(triangle, posts) <= 2

    mine = {n: keys_of(written[n], ALL_MARKS) for n in NAMES}
    shareable = {n: keys_of(written[n], NOT_RED) for n in NAMES}
    assert a.versions() == mine["a"] + shareable["b"] + shareable["c"]
    assert b.versions() == mine["b"] + shareable["a"] + shareable["c"]
    assert c.versions() == mine["c"] + shareable["b"] + keys_of(written["a"], TRAVELS)
    # A's GREEN reached C through B
    c_prov = c.provenance()
    assert {c_prov[k] for k in keys_of(written["a"], TRAVELS)} <= {"b", "sync:sync-b"}
    _no_post_back(triangle, written, posts)
    assert not any(p.sender == "a" and p.peer == "c" for p in posts)

    before = _snapshot(triangle)
    posts.clear()
    reports = _round(triangle, posts)
    assert moved(reports) == (0, 0)
    assert posts == []
    assert _snapshot(triangle) == before
