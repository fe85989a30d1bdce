"""tansiq db backup: SQLite online backup, also while a server is writing to the database.

SQLite only (PostgreSQL is backed up with pg_dump: tests/deploy/), so these tests build
their own SQLite instance with the real command rather than the backend-parametrised
fixtures of tests/cli/conftest.py.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import Tansiq, make_ready
from tests.deploy.support import TAXII, Serve, indicator

DEMO = Path(__file__).resolve().parents[2] / "tansiq" / "demo" / "demo-bundle.json"


@pytest.fixture
def ready(tmp_path: Path) -> Tansiq:
    """An initialised SQLite instance (backups are SQLite's): one organisation, alice
    (analyst), one collection."""
    return make_ready(Tansiq(tmp_path / "cli.db"))


def objects_of(bundle_text: str) -> str:
    return bundle_text.split('"objects":', 1)[1]  # bundle ids differ between exports


def test_backup_is_a_complete_private_single_file_copy(ready: Tansiq, tmp_path: Path) -> None:
    assert ready("import", str(DEMO), "--collection", "shared", "--user", "alice").code == 0
    target = tmp_path / "backup.db"
    r = ready("db", "backup", "--to", str(target), "--json")
    assert r.code == 0, r.err
    report = r.json()
    assert report["objects"] == 23
    assert report["audit"] > 0
    assert report["bytes"] == target.stat().st_size
    assert target.stat().st_mode & 0o777 == 0o600  # token hashes, the instance secret
    assert sorted(
        p.name for p in tmp_path.iterdir() if p.name.startswith(("backup", ".backup"))
    ) == ["backup.db"]  # no partial file left, no -wal/-shm: one self-contained file
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copy = Tansiq(target)
    verify = copy("audit", "verify", "--json")  # first: an export is itself audited
    assert verify.code == 0, verify.err
    assert verify.json()["entries"] == report["audit"]
    assert objects_of(copy("export", "--collection", "shared").out) == objects_of(
        ready("export", "--collection", "shared").out
    )
    assert copy("token", "list", "--json").json() == ready("token", "list", "--json").json()


def test_text_report(ready: Tansiq, tmp_path: Path) -> None:
    r = ready("db", "backup", "--to", str(tmp_path / "b.db"))
    assert r.code == 0, r.err
    expected = rf"backed up {re.escape(str(ready.db))} to {re.escape(str(tmp_path / 'b.db'))} "
    expected += r"\([\d,]+ bytes, 0 object versions, \d+ audit entries\)"
    assert re.fullmatch(expected, r.out.strip()), r.out


def test_refusals_are_one_line_errors(ready: Tansiq, tmp_path: Path) -> None:
    existing = tmp_path / "existing.db"
    existing.write_text("keep me")
    cases = [
        (("db", "backup", "--to", str(existing)), True, "already exists"),
        (("db", "backup", "--to", str(tmp_path / "no" / "dir.db")), True, "does not exist"),
        (
            ("--database", "postgresql://someone@127.0.0.1:1/x", "db", "backup", "--to", "x.db"),
            False,
            "back up PostgreSQL with pg_dump",
        ),
        (
            ("--database", str(tmp_path / "missing.db"), "db", "backup", "--to", "x.db"),
            False,
            "does not exist; run 'tansiq init' first",
        ),
        (("--database", str(existing), "db", "backup", "--to", "x.db"), False, "not a database"),
    ]
    for args, with_db, message in cases:
        r = ready(*args, db=with_db)
        assert r.code == 1, (args, r.out)
        assert r.err.startswith("error: ") and message in r.err, (args, r.err)
        assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert existing.read_text() == "keep me"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_backups_taken_while_a_server_writes_are_consistent_snapshots(
    ready: Tansiq, tmp_path: Path
) -> None:
    """Writers post 5-object envelopes (one transaction each) through a real server while
    backups are taken: each backup is intact, verifies, holds whole envelopes only, and
    holds everything an earlier backup held; the last one equals the live database."""
    token = ready.token
    url = None
    written: dict[int, set[tuple[str, str]]] = {}  # envelope -> its (id, version)s
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[str] = []

    def writer(w: int) -> None:
        assert url is not None
        with httpx.Client(headers={"Authorization": f"Bearer {token}", "Accept": TAXII}) as http:
            e = 0
            while not stop.is_set():
                envelope = w * 100_000 + e
                objs = [
                    indicator(
                        f"indicator--00000000-0000-4000-8000-{w:04d}{i:08d}",
                        f"2026-01-01T00:{e // 60:02d}:{e % 60:02d}.000Z",
                        f"writer {w} object {i}",
                    )
                    for i in range(5)
                ]
                r = http.post(
                    f"{url}/default/collections/{ready.collection_id}/objects/",
                    json={"objects": objs},
                    headers={"Content-Type": TAXII},
                    timeout=60,
                )
                if r.status_code != 202 or r.json()["success_count"] != 5:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    return
                with lock:
                    written[envelope] = {(o["id"], o["modified"]) for o in objs}
                e += 1

    def stored(database: Path) -> set[tuple[str, str]]:
        out = Tansiq(database)("export", "--collection", "shared")
        assert out.code == 0, out.err
        return {(o["id"], o["modified"]) for o in json.loads(out.out)["objects"]}

    def backup(n: int) -> Path:
        target = tmp_path / f"backup-{n}.db"
        r = ready("db", "backup", "--to", str(target))
        assert r.code == 0, r.err
        return target

    server = Serve(str(ready.db), tmp_path / "serve.log", workers=2)
    try:
        url = server.wait_ready().url
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
        for t in threads:
            t.start()
        backups = []
        for n in range(3):
            before = len(written)
            deadline = time.monotonic() + 60
            while len(written) < before + 3 and not errors and time.monotonic() < deadline:
                time.sleep(0.05)
            backups.append(backup(n))
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
        backups.append(backup(3))  # writers done, server still running
    finally:
        stop.set()
        server.stop()
    envelopes = list(written.values())
    everything = set().union(*envelopes)
    previous: set[tuple[str, str]] = set()
    for n, path in enumerate(backups):
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        verify = Tansiq(path)("audit", "verify")
        assert verify.code == 0, verify.err
        got = stored(path)
        assert got <= everything
        assert all(env <= got or not (env & got) for env in envelopes), "a torn envelope"
        assert previous <= got
        if n < 3:
            assert 0 < len(got) < len(everything)  # taken while writes went on
        previous = got
    assert previous == everything == stored(ready.db)
