"""db copy SQLite -> PostgreSQL -> SQLite: identical exports, tokens and a verified chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Tansiq
from tests.storage import pg_support

DEMO = Path(__file__).resolve().parents[2] / "tansiq" / "demo" / "demo-bundle.json"

pytestmark = pytest.mark.skipif(
    pg_support.unavailable() is not None, reason=pg_support.unavailable() or ""
)


def objects_of(bundle_text: str) -> str:
    return bundle_text.split('"objects":', 1)[1]  # bundle ids differ between exports


def test_round_trip_through_postgres(ready: Tansiq, tmp_path: Path) -> None:
    assert ready("import", str(DEMO), "--collection", "shared", "--user", "alice").code == 0
    before = ready("export", "--collection", "shared").out
    tokens = ready("token", "list", "--json").json()
    with pg_support.database() as url:
        there = ready("db", "copy", "--from", str(ready.db), "--to", url, "--json", db=False)
        assert there.code == 0, there.err
        assert there.json()["rows"]["objects"] == 23
        on_pg = Tansiq(url)  # type: ignore[arg-type]  # a URL works wherever a path does
        assert objects_of(on_pg("export", "--collection", "shared").out) == objects_of(before)
        verify = on_pg("audit", "verify")
        assert verify.code == 0, verify.err
        back_path = tmp_path / "back.db"
        back = ready("db", "copy", "--from", url, "--to", str(back_path), "--json", db=False)
        assert back.code == 0, back.err
    home = Tansiq(back_path)
    assert objects_of(home("export", "--collection", "shared").out) == objects_of(before)
    assert home("token", "list", "--json").json() == tokens
    assert home("audit", "verify").code == 0
