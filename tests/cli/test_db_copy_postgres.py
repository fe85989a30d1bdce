"""db copy across backends, there and back (SQLite -> PostgreSQL -> SQLite from a SQLite
instance, PostgreSQL -> SQLite -> PostgreSQL from a PostgreSQL one): identical exports,
tokens and a verified chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Tansiq
from tests.conftest import BACKENDS
from tests.storage import pg_support

DEMO = Path(__file__).resolve().parents[2] / "tansiq" / "demo" / "demo-bundle.json"

pytestmark = pytest.mark.skipif(
    pg_support.unavailable() is not None, reason=pg_support.unavailable() or ""
)


def objects_of(bundle_text: str) -> str:
    return bundle_text.split('"objects":', 1)[1]  # bundle ids differ between exports


def test_round_trip_through_the_other_backend(ready: Tansiq, tmp_path: Path) -> None:
    assert ready.backend is not None
    other = BACKENDS["postgres" if ready.backend.name == "sqlite" else "sqlite"]
    assert ready("import", str(DEMO), "--collection", "shared", "--user", "alice").code == 0
    before = ready("export", "--collection", "shared").out
    tokens = ready("token", "list", "--json").json()
    with (
        other.blank(tmp_path, "there") as there_db,
        ready.backend.blank(tmp_path, "back") as back_db,
    ):
        there = ready("db", "copy", "--from", ready.db, "--to", there_db, "--json", db=False)
        assert there.code == 0, there.err
        assert there.json()["rows"]["objects"] == 23
        away = Tansiq(there_db)
        assert objects_of(away("export", "--collection", "shared").out) == objects_of(before)
        verify = away("audit", "verify")
        assert verify.code == 0, verify.err
        back = ready("db", "copy", "--from", there_db, "--to", back_db, "--json", db=False)
        assert back.code == 0, back.err
        home = Tansiq(back_db)
        assert objects_of(home("export", "--collection", "shared").out) == objects_of(before)
        assert home("token", "list", "--json").json() == tokens
        assert home("audit", "verify").code == 0
