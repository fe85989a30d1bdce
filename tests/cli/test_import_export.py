"""import and export: bundles, 2.0 input, bad input with exact exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Tansiq

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DEMO = Path(__file__).resolve().parents[2] / "tansiq" / "demo" / "demo-bundle.json"

INDICATOR = {
    "type": "indicator",
    "spec_version": "2.1",
    "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "created": "2026-01-01T00:00:00.000Z",
    "modified": "2026-01-01T00:00:00.000Z",
    "pattern": "[ipv4-addr:value = '203.0.113.7']",
    "pattern_type": "stix",
    "valid_from": "2026-01-01T00:00:00Z",
}


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_import_and_export_round_trip(ready: Tansiq, tmp_path: Path) -> None:
    r = ready("import", str(DEMO), "--collection", "shared", "--user", "alice", "--json")
    assert r.code == 0, r.err
    report = r.json()
    assert report["added"] == report["total"] == 23
    assert report["invalid"] == 0
    again = ready("import", str(DEMO), "--collection", "shared", "--user", "alice", "--json")
    assert again.json()["unchanged"] == 23
    out = tmp_path / "out.json"
    e = ready("export", "--collection", "shared", "--out", str(out))
    assert e.code == 0, e.err
    bundle = json.loads(out.read_text())
    assert bundle["type"] == "bundle"
    original = json.loads(DEMO.read_text())["objects"]
    assert sorted((o["id"], o.get("modified", "")) for o in bundle["objects"]) == sorted(
        (o["id"], o.get("modified", "")) for o in original
    )


def test_export_to_stdout_is_a_valid_bundle(ready: Tansiq, tmp_path: Path) -> None:
    ready(
        "import",
        str(write(tmp_path / "i.json", INDICATOR)),
        "--collection",
        "shared",
        "--user",
        "alice",
    )
    r = ready("export", "--collection", "shared")
    assert r.code == 0
    bundle = json.loads(r.out)
    assert [o["id"] for o in bundle["objects"]] == [INDICATOR["id"]]


@pytest.mark.skipif(not (DATA / "ics-attack-18.1.json").exists(), reason="shared data absent")
def test_import_attack_ics_entirely(ready: Tansiq) -> None:
    r = ready(
        "import",
        str(DATA / "ics-attack-18.1.json"),
        "--collection",
        "shared",
        "--user",
        "alice",
        "--json",
    )
    assert r.code == 0, r.err
    report = r.json()
    assert report["total"] == 1826
    assert report["added"] == 1826


def test_missing_file(ready: Tansiq) -> None:
    r = ready("import", "nope.json", "--collection", "shared", "--user", "alice")
    assert (r.code, r.err) == (1, "error: nope.json: no such file\n")


def test_missing_file_among_good_ones_writes_nothing(ready: Tansiq, tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", INDICATOR)
    r = ready("import", str(good), "nope.json", "--collection", "shared", "--user", "alice")
    assert r.code == 1
    assert ready("collection", "list", "--json").json()["collections"][0]["versions"] == 0


def test_invalid_json(ready: Tansiq, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "bundle", "objects": [')
    r = ready("import", str(bad), "--collection", "shared", "--user", "alice")
    assert r.code == 1
    assert r.err.startswith(f"error: {bad}: invalid JSON")
    assert len(r.err.strip().splitlines()) == 1


def test_invalid_json_does_not_lose_other_files(ready: Tansiq, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    good = write(tmp_path / "good.json", INDICATOR)
    r = ready("import", str(bad), str(good), "--collection", "shared", "--user", "alice", "--json")
    assert r.code == 1
    assert r.json()["added"] == 1


def test_invalid_stix_keeps_valid_objects(ready: Tansiq, tmp_path: Path) -> None:
    broken = dict(
        INDICATOR,
        id="indicator--1e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        pattern="[ipv4-addr:value = ",
    )
    bundle = {
        "type": "bundle",
        "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
        "objects": [INDICATOR, broken],
    }
    r = ready(
        "import",
        str(write(tmp_path / "b.json", bundle)),
        "--collection",
        "shared",
        "--user",
        "alice",
    )
    assert r.code == 1
    assert "imported 2 objects" in r.out
    last = r.err.strip().splitlines()[-1]
    assert last.startswith("error: 1 of 2 objects rejected (valid ones were stored); first: ")
    assert broken["id"] in last and "pattern" in last
    assert ready("collection", "list", "--json").json()["collections"][0]["versions"] == 1


def test_not_stix_at_all(ready: Tansiq, tmp_path: Path) -> None:
    r = ready(
        "import", str(write(tmp_path / "n.json", 42)), "--collection", "shared", "--user", "alice"
    )
    assert r.code == 1
    assert "expected a STIX bundle" in r.err


def test_unknown_collection(ready: Tansiq) -> None:
    r = ready("import", str(DEMO), "--collection", "nope", "--user", "alice")
    assert (r.code, r.err) == (1, "error: unknown collection 'nope'\n")


def test_unknown_user(ready: Tansiq) -> None:
    r = ready("import", str(DEMO), "--collection", "shared", "--user", "mallory")
    assert (r.code, r.err) == (1, "error: unknown user 'mallory'\n")


def test_user_without_write_grant(ready: Tansiq) -> None:
    ready("org", "add", "Other")
    ready("user", "add", "olga", "--org", "Other", "--role", "analyst")
    r = ready("import", str(DEMO), "--collection", "shared", "--user", "olga")
    assert (r.code, r.err) == (1, "error: user 'olga' may not write to collection 'shared'\n")


def test_stix20_bundle_is_upgraded(ready: Tansiq, tmp_path: Path) -> None:
    obj20 = {
        "type": "indicator",
        "id": "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade",
        "created": "2016-04-06T20:03:48.000Z",
        "modified": "2016-04-06T20:03:48.000Z",
        "labels": ["malicious-activity"],
        "pattern": "[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']",
        "valid_from": "2016-01-01T00:00:00Z",
    }
    bundle = {
        "type": "bundle",
        "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982",
        "spec_version": "2.0",
        "objects": [obj20],
    }
    r = ready(
        "import",
        str(write(tmp_path / "b20.json", bundle)),
        "--collection",
        "shared",
        "--user",
        "alice",
        "--json",
    )
    assert r.code == 0, r.err
    exported = json.loads(ready("export", "--collection", "shared").out)["objects"][0]
    assert exported["spec_version"] == "2.1"
    assert exported["pattern_type"] == "stix"


def test_export_unknown_collection(ready: Tansiq) -> None:
    r = ready("export", "--collection", "nope")
    assert (r.code, r.err) == (1, "error: unknown collection 'nope'\n")


def test_export_to_unwritable_path(ready: Tansiq, tmp_path: Path) -> None:
    r = ready("export", "--collection", "shared", "--out", str(tmp_path / "no" / "dir" / "x.json"))
    assert r.code == 1
    assert "cannot write" in r.err
