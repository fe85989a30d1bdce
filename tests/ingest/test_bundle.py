"""Ingest: shapes of input, per-object failures, streaming and the parallel pipeline."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tansiq.access import admin
from tansiq.errors import InvalidInput
from tansiq.ingest import bundle
from tansiq.ingest.bundle import ImportReport, import_file, top_level_objects, write_objects
from tansiq.storage.base import Query, VersionFilter
from tansiq.storage.sqlite import SQLiteStore

ALL = VersionFilter(all=True, last=False)


def indicator(i: int, pattern: str | None = None) -> dict[str, object]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.UUID(int=i + 1, version=4)}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "pattern": pattern
        or f"[ipv4-addr:value = '10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "description": "x" * 200,
    }


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = SQLiteStore(tmp_path / "i.db")
    s.migrate()
    admin.add_org(s, "A")
    admin.add_user(s, "u", "A", "analyst")
    coll = admin.add_collection(s, "C", alias="c", read=["A"], write=["A"])
    s.coll = coll.id  # type: ignore[attr-defined]
    yield s
    s.close()


def ids_in(store: SQLiteStore) -> list[str]:
    page = store.query(Query(collection_id=store.coll, versions=ALL))  # type: ignore[attr-defined]
    return [r.id for r in page.rows]


@pytest.mark.parametrize(
    "data, count",
    [
        (
            {
                "type": "bundle",
                "id": "bundle--6b9d1ed1-b6a3-4e8c-9ee4-3a6c2a6f2d6e",
                "objects": [1, 2],
            },
            2,
        ),
        ({"objects": [1, 2, 3]}, 3),
        ([1], 1),
        ({"type": "indicator"}, 1),
        ({}, 0),
    ],
)
def test_top_level_shapes(data: object, count: int) -> None:
    assert len(top_level_objects(data)) == count


@pytest.mark.parametrize("data", [42, "text", None, {"type": "bundle", "objects": {}}])
def test_top_level_refuses_other_values(data: object) -> None:
    with pytest.raises(InvalidInput):
        top_level_objects(data)


def test_one_invalid_object_never_loses_the_valid_ones(store: SQLiteStore) -> None:
    principal = admin.principal(store, "u")
    bad = indicator(2, pattern="[ipv4-addr:value = ")
    results = write_objects(store, store.coll, principal, [indicator(1), bad, indicator(3), "nope"])  # type: ignore[attr-defined]
    assert [r.outcome for r in results] == ["added", "invalid", "added", "invalid"]
    assert [r.index for r in results] == [0, 1, 2, 3]
    assert "pattern" in (results[1].message or "")
    assert sorted(ids_in(store)) == sorted([indicator(1)["id"], indicator(3)["id"]])


def test_large_file_goes_through_the_parallel_pipeline(
    store: SQLiteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle, "PARALLEL_ABOVE", 1024)
    monkeypatch.setattr(bundle, "STREAM_ABOVE", 1024)
    objects = [indicator(i) for i in range(3000)]
    objects[1234] = indicator(1234, pattern="[nope")
    path = tmp_path / "big.json"
    path.write_text(
        json.dumps(
            {
                "type": "bundle",
                "id": "bundle--6b9d1ed1-b6a3-4e8c-9ee4-3a6c2a6f2d6e",
                "objects": objects,
            }
        )
    )
    seen: list[int] = []
    report = import_file(
        store,
        store.coll,
        admin.principal(store, "u"),
        path,
        progress=lambda done, _t: seen.append(done),  # type: ignore[attr-defined]
    )
    assert (report.total, report.added, report.invalid) == (3000, 2999, 1)
    assert report.failures[0].index == 1234
    assert seen[-1] == 3000
    assert len(ids_in(store)) == 2999
    again = import_file(store, store.coll, admin.principal(store, "u"), path)  # type: ignore[attr-defined]
    assert (again.unchanged, again.added) == (2999, 0)


def test_truncated_large_file_keeps_what_came_before(
    store: SQLiteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle, "PARALLEL_ABOVE", 1024)
    monkeypatch.setattr(bundle, "STREAM_ABOVE", 1024)
    objects = [indicator(i) for i in range(12000)]
    text = json.dumps({"objects": objects})
    path = tmp_path / "cut.json"
    path.write_text(text[: int(len(text) * 0.9)])
    report = ImportReport()
    with pytest.raises(InvalidInput, match="invalid JSON"):
        import_file(store, store.coll, admin.principal(store, "u"), path, report=report)  # type: ignore[attr-defined]
    # whole batches before the cut were stored and counted; nothing half-written
    assert report.added == len(ids_in(store)) > 0
    assert report.added % 5000 == 0


def test_small_and_streamed_paths_agree(
    store: SQLiteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = [indicator(i) for i in range(50)]
    path = tmp_path / "list.json"
    path.write_text(json.dumps(objects))
    small = list(bundle.read_objects(path))
    monkeypatch.setattr(bundle, "STREAM_ABOVE", 10)
    streamed = list(bundle.read_objects(path))
    assert small == streamed == objects
