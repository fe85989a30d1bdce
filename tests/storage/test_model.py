"""Contract, stateful: random writes, deletes and queries against an in-Python model.

The model knows, per collection, which (id, version) rows exist, their bodies, their
arrival order, and hence which version of each object is first and last. It decides
every write outcome on its own (added / unchanged / conflict) from the STIX rules:

- SDO: a version is the instant of ``modified``, whatever its printed precision; the
  same instant with the same content is unchanged, with other content a conflict.
- SCO: a body already stored under that id is unchanged; another body is a new version
  whose version is its date_added.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tansiq.storage.base import Query, VersionFilter

from .conftest import ALL, FIRST, FIRST_LAST, LAST, World, new_version, query_all, sco, sdo, sid


@dataclass(frozen=True, order=True)
class Instant:
    """A point in time with any sub-second precision: whole seconds + exact fraction."""

    seconds: datetime
    fraction: Fraction

    @classmethod
    def of(cls, base: str, digits: str = "") -> Instant:
        whole = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        return cls(whole, Fraction(int(digits or "0"), 10 ** len(digits)))

    def text(self, digits: int) -> str:
        """Printed with ``digits`` fraction digits, or as few more as it needs."""
        frac = ""
        rest = self.fraction
        while rest or len(frac) < digits:
            rest *= 10
            frac += str(int(rest))
            rest -= int(rest)
        base = self.seconds.strftime("%Y-%m-%dT%H:%M:%S")
        return f"{base}.{frac}Z" if frac else f"{base}Z"


INSTANTS = [
    Instant.of("2020-01-01T00:00:00"),
    Instant.of("2020-01-01T00:00:00", "12"),
    Instant.of("2020-01-01T00:00:00", "5"),
    Instant.of("2020-01-01T00:00:01"),
    Instant.of("2020-03-01T12:30:00", "123456"),
    Instant.of("2020-03-01T12:30:00", "1234567"),  # 100 ns later: another version
    Instant.of("2020-03-01T12:30:00", "12345671"),
    Instant.of("2021-01-01T00:00:00"),
]
DIGITS = [0, 1, 2, 3, 6, 9, 12]  # fraction digits to print (at least as many as needed)
NAMES = ["alpha", "beta", "gamma"]
VALUES = ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
SDO_TYPES = ["indicator", "malware", "indicator"]
N_SCO = 2
FILTERS = {"first": FIRST, "last": LAST, "first,last": FIRST_LAST, "all": ALL}


def stix_time(instant: Instant, digits: int) -> str:
    return instant.text(digits)


def shuffled(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: obj[k] for k in reversed(list(obj))}


@dataclass
class Row:
    id: str
    sco: bool
    content: str  # name (SDO) or value (SCO)
    json: bytes
    instant: Instant | None = None  # SDO only
    version: str | None = None  # SDO: text as first posted; SCO: its date_added
    seq: int | None = None
    date_added: str | None = None

    def order(self) -> Any:
        """Version order within one object."""
        return self.instant if not self.sco else self.date_added


@dataclass
class Coll:
    id: str
    rows: list[Row] = field(default_factory=list)  # in date_added order
    conflicts: int = 0

    def versions_of(self, oid: str) -> list[Row]:
        return [r for r in self.rows if r.id == oid]

    def select(self, name: str) -> list[Row]:
        if name == "all":
            return list(self.rows)
        ends: set[int] = set()
        for oid in {r.id for r in self.rows}:
            vs = self.versions_of(oid)
            if name in ("first", "first,last"):
                ends.add(id(min(vs, key=Row.order)))
            if name in ("last", "first,last"):
                ends.add(id(max(vs, key=Row.order)))
        return [r for r in self.rows if id(r) in ends]


sdo_op = st.tuples(
    st.just("sdo"),
    st.integers(0, len(SDO_TYPES) - 1),
    st.integers(0, len(INSTANTS) - 1),
    st.sampled_from(NAMES),
    st.sampled_from(DIGITS),
    st.booleans(),
)
sco_op = st.tuples(
    st.just("sco"),
    st.integers(0, N_SCO - 1),
    st.just(0),
    st.sampled_from(VALUES),
    st.just(0),
    st.booleans(),
)


def machine_for(world: World) -> type[RuleBasedStateMachine]:
    class StoreModel(RuleBasedStateMachine):
        @initialize()
        def setup(self) -> None:
            self.colls = [Coll(world.new_collection()), Coll(world.new_collection())]
            self.sdo_ids = [sid(t) for t in SDO_TYPES]
            self.sco_ids = [sid("ipv4-addr") for _ in range(N_SCO)]

        # ------------------------------------------------------------------ writes

        @rule(
            c=st.integers(0, 1),
            ops=st.lists(st.one_of(sdo_op, sco_op), min_size=1, max_size=8),
        )
        def write(self, c: int, ops: list[tuple[Any, ...]]) -> None:
            coll = self.colls[c]
            inputs = []
            expected: list[tuple[str, str, Row | str]] = []  # (id, outcome, row or version)
            added: list[Row] = []
            for i, (kind, k, t, content, digits, reorder) in enumerate(ops):
                if kind == "sdo":
                    oid, inst = self.sdo_ids[k], INSTANTS[t]
                    same = [
                        r
                        for r in coll.versions_of(oid) + added
                        if r.id == oid and r.instant == inst
                    ]
                    if same and same[0].content == content:
                        text = same[0].version  # the very same object again
                        outcome = "unchanged"
                    else:
                        text = stix_time(inst, digits)
                        outcome = "conflict" if same else "added"
                    obj = sdo(oid, text, name=content, created="2019-06-01T00:00:00Z")
                    if reorder:
                        obj = shuffled(obj)
                    nv = new_version(obj, 100 + i)
                    assert text is not None
                    expected.append((oid, outcome, text))
                    if outcome == "added":
                        row = Row(oid, False, content, nv.json, inst, text)
                        added.append(row)
                else:
                    oid = self.sco_ids[k]
                    obj = sco(oid, content)
                    if reorder:
                        obj = shuffled(obj)
                    nv = new_version(obj, 100 + i)
                    stored = [r for r in coll.versions_of(oid) + added if r.id == oid]
                    match = next((r for r in stored if r.content == content), None)
                    if match is not None:
                        expected.append((oid, "unchanged", match))
                    else:
                        row = Row(oid, True, content, nv.json)
                        added.append(row)
                        expected.append((oid, "added", row))
                inputs.append(nv)

            results = world.store.write_versions(coll.id, inputs, writer=world.writer)

            # the new rows come after every earlier row, in input order
            rows = world.rows(coll.id)
            before = len(coll.rows)
            assert [r.seq for r in rows[:before]] == [r.seq for r in coll.rows]
            fresh = rows[before:]
            assert [(r.id, r.json) for r in fresh] == [(r.id, r.json) for r in added]
            if coll.rows and fresh:
                assert fresh[0].date_added > coll.rows[-1].date_added  # type: ignore[operator]
            for model_row, got in zip(added, fresh, strict=True):
                model_row.seq, model_row.date_added = got.seq, got.date_added
                if model_row.sco:
                    assert got.version == got.date_added
                    model_row.version = got.version
                assert got.version == model_row.version
            coll.rows.extend(added)

            assert len(results) == len(inputs)
            for i, (res, (oid, outcome, ver)) in enumerate(zip(results, expected, strict=True)):
                want_version = ver.version if isinstance(ver, Row) else ver
                assert (res.index, res.id, res.outcome, res.version) == (
                    100 + i,
                    oid,
                    outcome,
                    want_version,
                ), i
            n_conflicts = sum(1 for _, o, _ in expected if o == "conflict")
            coll.conflicts += n_conflicts

        # ------------------------------------------------------------------ deletes

        @rule(
            c=st.integers(0, 1),
            k=st.integers(0, len(SDO_TYPES) + N_SCO - 1),
            how=st.sampled_from(["first", "last", "first,last", "all", "exact"]),
            t=st.integers(0, len(INSTANTS) - 1),
            digits=st.sampled_from(DIGITS),
        )
        def delete(self, c: int, k: int, how: str, t: int, digits: int) -> None:
            coll = self.colls[c]
            oid = (self.sdo_ids + self.sco_ids)[k]
            if how == "exact":
                vf = VersionFilter(last=False, exact=(stix_time(INSTANTS[t], digits),))
                doomed = [r for r in coll.versions_of(oid) if r.instant == INSTANTS[t]]
            else:
                vf = FILTERS[how]
                doomed = [r for r in coll.select(how) if r.id == oid]
            assert world.store.delete_object(coll.id, oid, vf) == len(doomed)
            coll.rows = [r for r in coll.rows if all(r is not d for d in doomed)]

        # ------------------------------------------------------------------ reads

        @rule(
            c=st.integers(0, 1),
            t=st.lists(st.integers(0, len(INSTANTS) - 1), min_size=1, max_size=2),
            digits=st.sampled_from(DIGITS),
            also=st.sampled_from(["", "first", "last"]),
        )
        def exact_versions(self, c: int, t: list[int], digits: int, also: str) -> None:
            coll = self.colls[c]
            instants = {INSTANTS[i] for i in t}
            keys = tuple(stix_time(INSTANTS[i], digits) for i in t)
            vf = VersionFilter(first=also == "first", last=also == "last", exact=keys)
            ends = {id(r) for r in coll.select(also)} if also else set()
            want = [r.seq for r in coll.rows if r.instant in instants or id(r) in ends]
            got = world.query(coll.id, versions=vf)
            assert [r.seq for r in got] == want

        @rule(c=st.integers(0, 1), pick=st.integers(0, 1000))
        def exact_sco_version(self, c: int, pick: int) -> None:
            coll = self.colls[c]
            scos = [r for r in coll.rows if r.sco]
            if not scos:
                return
            row = scos[pick % len(scos)]
            assert row.version is not None
            got = world.query(coll.id, versions=VersionFilter(last=False, exact=(row.version,)))
            assert [r.seq for r in got] == [row.seq]

        @rule(
            c=st.integers(0, 1),
            limit=st.integers(1, 6),
            how=st.sampled_from(sorted(FILTERS)),
            types=st.sampled_from([(), ("indicator",), ("malware", "ipv4-addr")]),
        )
        def page_through(self, c: int, limit: int, how: str, types: tuple[str, ...]) -> None:
            coll = self.colls[c]
            q = Query(collection_id=coll.id, limit=limit, versions=FILTERS[how], types=types)
            seqs: list[int] = []
            while True:
                page = world.store.query(q)
                assert len(page.rows) <= limit
                seqs.extend(r.seq for r in page.rows)
                assert len(seqs) <= len(coll.rows)
                if not page.more:
                    assert page.next_position is None
                    break
                assert len(page.rows) == limit
                assert page.next_position is not None
                assert q.after is None or page.next_position > q.after
                q = replace(q, after=page.next_position)
            want = [r.seq for r in coll.select(how) if not types or r.id.split("--")[0] in types]
            assert seqs == want

        # ------------------------------------------------------------------ invariants

        @invariant()
        def store_matches_model(self) -> None:
            for coll in self.colls:
                for name in FILTERS:
                    got = query_all(
                        world.store, Query(collection_id=coll.id, versions=FILTERS[name])
                    )
                    want = coll.select(name)
                    assert [(r.seq, r.id, r.version, r.json) for r in got] == [
                        (r.seq, r.id, r.version, r.json) for r in want
                    ], name
                assert world.store.count_versions(coll.id) == len(coll.rows)
                recorded = [
                    x
                    for x in world.store.list_conflicts(limit=100_000)
                    if x["collection_id"] == coll.id
                ]
                assert len(recorded) == coll.conflicts
                for row in coll.rows:
                    assert orjson.loads(row.json)["id"] == row.id

    return StoreModel


def test_random_writes_deletes_and_queries_match_the_model(world: World) -> None:
    run_state_machine_as_test(
        machine_for(world),
        settings=settings(
            max_examples=60,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
