"""Three instances in a chain A -> B -> C: exact sets per marking at every hop."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tansiq.federation.report import PeerReport
from tests.federation.world import (
    ALL_MARKS,
    MARKS,
    NOT_RED,
    ONE_HOP,
    TRAVELS,
    Agency,
    Post,
    add_collection,
    chain_of_three,
    indicator,
    keys_of,
    map_collection,
    marking_of,
    moved,
    new_version,
    org_of,
    raw_get,
    sample,
    sync_recorded,
    versions_in,
    vkey,
    write_to,
)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[tuple[Agency, Agency, Agency]]:
    with chain_of_three(tmp_path) as agencies:
        yield agencies


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


# ---------------------------------------------------------------- every link both ways


def _link_both_ways(a: Agency, b: Agency, c: Agency) -> None:
    """A pushes to B and B pulls from A; B pushes to C and C pulls from B."""
    a.add_peer(b, pull=False, push=True)
    b.add_peer(a, pull=True, push=False)
    b.add_peer(c, pull=False, push=True)
    c.add_peer(b, pull=True, push=False)


def _round(steps: list[tuple[Agency, str]], posts: list[Post]) -> list[PeerReport]:
    """Each (agency, peer) synced in turn; every envelope POSTed is noted in ``posts``."""
    reports: list[PeerReport] = []
    for agency, peer in steps:
        reports += sync_recorded(agency, posts, peer)
    assert all(r.ok for r in reports), [r.errors for r in reports]
    return reports


@pytest.mark.parametrize("first", ["push", "pull"])
def test_chain_with_pull_and_push_on_every_link(
    chain: tuple[Agency, Agency, Agency], first: str
) -> None:
    """Every marking at every hop, whichever of A's push or B's pull carries A's objects
    to B first (the provenance at B differs: 'sync:sync-a' or 'a'; the rule must not)."""
    a, b, c = chain
    _link_both_ways(a, b, c)
    # B's collection is granted to C's organisation: what stops A's AMBER at B is the
    # one-hop rule, not B's grants
    b_shared = b.store.get_collection(b.collection)
    c_org = b.store.get_org(org_of("c"))
    assert b_shared is not None and c_org is not None and c_org.id in b_shared.read_orgs

    a_first, a_later = sample("from A")
    b_first, b_later = sample("from B")
    at_a = [*a_first.values(), *a_later]
    at_b = [*b_first.values(), *b_later]
    a.write(list(a_first.values()))
    a.write(a_later)
    b.write(list(b_first.values()))
    b.write(b_later)

    a_to_b = [(a, "b"), (b, "a")] if first == "push" else [(b, "a"), (a, "b")]
    posts: list[Post] = []
    _round([*a_to_b, (b, "c"), (c, "b")], posts)

    expected_a = keys_of(at_a, ALL_MARKS)
    expected_b = keys_of(at_a, NOT_RED) + keys_of(at_b, ALL_MARKS)
    expected_c = keys_of(at_a, TRAVELS) + keys_of(at_b, NOT_RED)
    # exact sets, each version once (a Counter holds multiplicities)
    assert a.versions() == expected_a
    assert b.versions() == expected_b
    assert c.versions() == expected_c
    # RED never left A nor B, A's AMBER family never reached C: not even in an envelope
    sent_to_c = set().union(*(p.keys for p in posts if p.peer == "c"))
    sent_to_b = set().union(*(p.keys for p in posts if p.peer == "b"))
    assert not sent_to_c & set(keys_of(at_a, ONE_HOP | {"RED"}))
    assert not sent_to_c & {vkey(b_first["RED"])}
    assert not sent_to_b & {vkey(a_first["RED"])}

    # C's sync account reading B over TAXII (the partner pulls) gets what C holds
    over_taxii = Counter(vkey(o) for o in b.taxii_get("sync-c"))
    assert over_taxii == expected_c
    # ...while a human reader of C's organisation on B sees A's AMBER: B's own grants
    # decide what B's users read; the marking decides how far it travels
    c_reader = {vkey(o) for o in b.taxii_get("c-reader")}
    assert vkey(a_first["AMBER"]) in c_reader
    assert vkey(a_first["RED"]) not in c_reader

    # revocations travel: the revoking versions reached every hop the marking allows
    revoked_clear, revoked_amber = a_later[1], a_later[2]
    for agency in (b, c):
        assert orjson.loads(agency.bodies()[vkey(revoked_clear)])["revoked"] is True
    assert orjson.loads(b.bodies()[vkey(revoked_amber)])["revoked"] is True
    assert vkey(revoked_amber) not in c.versions()

    # identical bytes for each version at every hop (A's versions as A stores them)
    origin = {**b.bodies(), **a.bodies()}
    for agency in (b, c):
        for k, body in agency.bodies().items():
            assert body == origin[k], k
    # provenance: which peer (or which partner's sync account) each version came from
    expected_from_a = "sync:sync-a" if first == "push" else "a"
    assert {b.provenance()[vkey(o)] for o in at_a if marking_of(o) != "RED"} == {expected_from_a}
    assert {b.provenance()[vkey(o)] for o in at_b} == {None}
    c_prov = c.provenance()
    assert {c_prov[k] for k in expected_c} <= {"b", "sync:sync-b"}

    # a second round moves nothing: no version added, no push offers anything
    before = [x.versions() for x in (a, b, c)]
    posts.clear()
    reports = _round([*a_to_b, (b, "c"), (c, "b")], posts)
    assert moved(reports) == (0, 0)
    assert posts == []
    assert [x.versions() for x in (a, b, c)] == before


def test_collection_not_granted_to_the_peer_never_leaves(
    chain: tuple[Agency, Agency, Agency],
) -> None:
    """A's 'internal' is granted to A only, B's 'private' to B and A only: mapped anyway
    (bypassing the CLI's check), they fail with a clear error, move nothing, and do not
    stop the other mappings of the same peer."""
    a, b, c = chain
    _link_both_ways(a, b, c)
    internal = add_collection(a, "internal", ["a"])
    private = add_collection(b, "private", ["a", "b"])
    a_objects = [indicator("internal", m) for m in MARKS]
    b_objects = [indicator("private", m) for m in MARKS]
    write_to(a, internal, a_objects)
    write_to(b, private, b_objects)
    shared = indicator("shared", "GREEN")
    a.write([shared])
    # every direction of both links tries the collection the peer may not read
    map_collection(a, "b", "push", "shared", internal)
    map_collection(b, "a", "pull", "internal", b.collection)
    map_collection(b, "c", "push", "shared", private)
    map_collection(c, "b", "pull", "private", c.collection)

    reports = {
        (agency.name, r.peer): r
        for agency, peer in [(a, "b"), (b, "a"), (b, "c"), (c, "b")]
        for r in agency.sync(peer)
    }
    assert reports[("a", "b")].errors == [
        f"push shared/{internal}: organisation 'Agency B' (peer 'b') is not granted read on "
        "collection 'Internal'; grant it or remove the mapping"
    ]
    assert reports[("b", "c")].errors == [
        f"push shared/{private}: organisation 'Agency C' (peer 'c') is not granted read on "
        "collection 'Private'; grant it or remove the mapping"
    ]
    # the partner's sync account does not even see the collection
    (pull_error,) = reports[("b", "a")].errors
    assert pull_error.startswith(f"pull internal/{b.collection}: no collection 'internal' on ")
    (pull_error,) = reports[("c", "b")].errors
    assert pull_error.startswith(f"pull private/{c.collection}: no collection 'private' on ")
    # ... nor its objects, by id, over TAXII: the same 404 as a collection that is not there
    for agency, coll, token in [(a, internal, a.sync_token("b")), (b, private, b.sync_token("c"))]:
        other = str(uuid.uuid4())
        denied = raw_get(f"{agency.server.url}/default/collections/{coll}/objects/", token)
        missing = raw_get(f"{agency.server.url}/default/collections/{other}/objects/", token)
        assert denied.status_code == missing.status_code == 404
        assert denied.text.replace(coll, other) == missing.text

    # nothing of them anywhere else; the shared mappings of the same peers still worked
    leaked = {vkey(o) for o in a_objects + b_objects}
    for agency in (a, b, c):
        held = set(agency.versions())
        assert not held & leaked
        assert vkey(shared) in held
    assert set(versions_in(a, internal)) == {vkey(o) for o in a_objects}
    assert set(versions_in(b, private)) == {vkey(o) for o in b_objects}
    # the status says what is wrong and keeps saying it
    status = a.registry.status("b")
    assert "not granted read on collection 'Internal'" in status["last_error"]
    assert status["failures"] == 1
