"""GET /healthz: 200 while the database answers, 503 once it does not; no credentials."""

from __future__ import annotations

from pathlib import Path

import httpx

from tansiq.access import admin
from tansiq.storage.sqlite import SQLiteStore
from tests.conftest import LiveServer


def test_healthz_follows_the_database(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "h.db")
    store.migrate()
    admin.ensure_api_root(store)
    server = LiveServer(store).start()
    try:
        ok = httpx.get(f"{server.url}/healthz")
        assert (ok.status_code, ok.json()) == (200, {"status": "ok"})
        # the database file is destroyed under the running server
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp_path / 'h.db'}{suffix}").unlink(missing_ok=True)
        (tmp_path / "h.db").write_bytes(b"not a database" * 1000)
        down = httpx.get(f"{server.url}/healthz")
        assert down.status_code == 503
        assert down.json() == {"status": "unavailable", "reason": "database not reachable"}
        assert httpx.post(f"{server.url}/healthz").status_code == 405
    finally:
        server.stop()
