"""db copy: a whole instance moves with identical exports and a verified audit chain
(here between two databases of the backend under test; test_db_copy_postgres.py crosses
backends)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Tansiq

DEMO = Path(__file__).resolve().parents[2] / "tansiq" / "demo" / "demo-bundle.json"


def strip(bundle_text: str) -> str:
    return bundle_text.split('"objects":', 1)[1]  # bundle ids differ between exports


def test_copy_round_trip_keeps_everything(ready: Tansiq, tmp_path: Path) -> None:
    assert ready.backend is not None
    assert ready("import", str(DEMO), "--collection", "shared", "--user", "alice").code == 0
    before = ready("export", "--collection", "shared").out
    with ready.backend.blank(tmp_path, "copy") as copy:
        r = ready("db", "copy", "--from", ready.db, "--to", copy, "--json", db=False)
        assert r.code == 0, r.err
        assert r.json()["rows"]["objects"] == 23
        moved = Tansiq(copy)
        after = moved("export", "--collection", "shared").out
        assert strip(after) == strip(before)
        verify = moved("audit", "verify")
        assert verify.code == 0, verify.err
        # the token still works on the copy: same hashes, same users
        assert moved("token", "list", "--json").json() == ready("token", "list", "--json").json()


def test_copy_refuses_a_non_empty_target(ready: Tansiq) -> None:
    r = ready("db", "copy", "--from", ready.db, "--to", ready.db, db=False)
    assert r.code == 1
    assert "not empty" in r.err


def test_copy_from_missing_database(tansiq: Tansiq, tmp_path: Path) -> None:
    assert tansiq.backend is not None
    missing = tansiq.backend.missing(tmp_path)
    with tansiq.backend.blank(tmp_path, "target") as target:
        r = tansiq("db", "copy", "--from", missing, "--to", target, db=False)
    assert r.code == 1
    assert r.err.startswith("error: ") and "does not exist" in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1
