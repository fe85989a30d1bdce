"""The middle of a chain on PostgreSQL: A (SQLite) -> B (PostgreSQL) -> C (SQLite).

B pulls from A and pushes to C while A keeps writing: the same exact sets per marking as
on SQLite, each version once, identical bytes, and B's push cursor (on PostgreSQL's
commit-ordered change feed) misses nothing written while it pushed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.federation.world import Agency, chain_of_three, indicator
from tests.storage import pg_support

pytestmark = pytest.mark.skipif(
    pg_support.unavailable() is not None, reason=pg_support.unavailable() or ""
)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[tuple[Agency, Agency, Agency]]:
    with pg_support.database() as url, chain_of_three(tmp_path, middle=url) as agencies:
        yield agencies


def test_postgres_in_the_middle(chain: tuple[Agency, Agency, Agency]) -> None:
    a, b, c = chain
    b.add_peer(a, pull=True, push=False)
    b.add_peer(c, pull=False, push=True)
    marks = ["CLEAR", "GREEN", "AMBER", "RED"]
    from_a = [indicator("A", m) for m in marks for _ in range(5)]
    a.write(from_a)
    from_b: list[dict[str, object]] = []

    def local_writer() -> None:  # B's analysts keep writing while B syncs
        for i in range(20):
            batch = [indicator("B", marks[i % 4])]
            b.write(batch)
            from_b.extend(batch)

    writer = threading.Thread(target=local_writer)
    writer.start()
    for _ in range(3):
        assert all(r.ok for r in b.sync("a") + b.sync("c"))
    writer.join()
    assert all(r.ok for r in b.sync("a") + b.sync("c"))

    def ids(objs: list[dict[str, object]], allowed: set[str | None]) -> set[object]:
        return {o["id"] for o in objs if _mark(o) in allowed}

    at_b = {oid for oid, _ in b.versions()}
    at_c = {oid for oid, _ in c.versions()}
    assert at_b == ids(from_a, {"CLEAR", "GREEN", "AMBER"}) | ids(from_b, set(marks))
    assert at_c == ids(from_a, {"CLEAR", "GREEN"}) | ids(from_b, {"CLEAR", "GREEN", "AMBER"})
    for agency in (b, c):
        assert all(n == 1 for n in agency.versions().values())
    for key, body in c.bodies().items():
        assert body == (a.bodies().get(key) or b.bodies()[key])


def _mark(obj: dict[str, object]) -> str | None:
    from tests.federation.world import TLP

    refs = obj.get("object_marking_refs") or []
    names = {v: k for k, v in TLP.items()}
    return names.get(refs[0]) if isinstance(refs, list) and refs else None
