"""db copy: a whole instance moves with identical exports and a verified audit chain."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Tansiq

DEMO = Path(__file__).resolve().parents[2] / "tansiq" / "demo" / "demo-bundle.json"


def test_copy_round_trip_keeps_everything(ready: Tansiq, tmp_path: Path) -> None:
    assert ready("import", str(DEMO), "--collection", "shared", "--user", "alice").code == 0
    before = ready("export", "--collection", "shared").out
    copy = tmp_path / "copy.db"
    r = ready("db", "copy", "--from", str(ready.db), "--to", str(copy), "--json", db=False)
    assert r.code == 0, r.err
    assert r.json()["rows"]["objects"] == 23
    moved = Tansiq(copy)
    after = moved("export", "--collection", "shared").out
    strip = lambda text: text.split('"objects":', 1)[1]  # noqa: E731 - bundle ids differ
    assert strip(after) == strip(before)
    verify = moved("audit", "verify")
    assert verify.code == 0, verify.err
    # the token still works on the copy: same hashes, same users
    assert moved("token", "list", "--json").json() == ready("token", "list", "--json").json()


def test_copy_refuses_a_non_empty_target(ready: Tansiq) -> None:
    r = ready("db", "copy", "--from", str(ready.db), "--to", str(ready.db), db=False)
    assert r.code == 1
    assert "not empty" in r.err


def test_copy_from_missing_database(tansiq: Tansiq, tmp_path: Path) -> None:
    r = tansiq(
        "db", "copy", "--from", str(tmp_path / "nope.db"), "--to", str(tmp_path / "x.db"), db=False
    )
    assert r.code == 1
    assert "does not exist" in r.err
