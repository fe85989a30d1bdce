"""GET /healthz: 200 while the database answers, 503 once it does not; no credentials.

SQLite: the database file is destroyed under the running server. PostgreSQL: the
database refuses connections and its sessions are ended (as when its server is down),
then comes back; the server answers again without a failed request in between.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tansiq.access import admin
from tests.conftest import Backend, LiveServer, build_instance, open_database
from tests.storage import pg_support

TAXII = "application/taxii+json;version=2.1"


def test_healthz_follows_the_database(backend: Backend, database: str) -> None:
    store = open_database(database)
    store.migrate()
    admin.ensure_api_root(store)
    server = LiveServer(store).start()
    try:
        ok = httpx.get(f"{server.url}/healthz")
        assert (ok.status_code, ok.json()) == (200, {"status": "ok"})
        if backend.name == "sqlite":
            store.close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{database}{suffix}").unlink(missing_ok=True)
            Path(database).write_bytes(b"not a database" * 1000)
            down = httpx.get(f"{server.url}/healthz")
        else:
            with pg_support.unreachable(database):
                for _ in range(4):  # more than the connections the pool had
                    started = time.monotonic()
                    down = httpx.get(f"{server.url}/healthz", timeout=60)
                    assert time.monotonic() - started < 10, "no answer while the database is down"
                    assert down.status_code == 503
            back = httpx.get(f"{server.url}/healthz", timeout=60)
            assert (back.status_code, back.json()) == (200, {"status": "ok"})
        assert down.status_code == 503
        assert down.json() == {"status": "unavailable", "reason": "database not reachable"}
        assert httpx.post(f"{server.url}/healthz").status_code == 405
    finally:
        server.stop()
        store.close()


@pytest.mark.skipif(pg_support.unavailable() is not None, reason=pg_support.unavailable() or "")
def test_no_request_fails_after_the_database_restarts() -> None:
    """A PostgreSQL restart (or failover) ends every pooled connection: the first
    requests afterwards must get new ones, not fail on the dead ones."""
    with pg_support.database() as url:
        inst = build_instance(url)
        server = LiveServer(inst.store).start()
        headers = {"Accept": TAXII, "Authorization": f"Bearer {inst.tokens['alice']}"}
        try:
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
                for _ in range(3):
                    path = f"/default/collections/{inst.collections['shared']}/objects/"
                    assert http.get(path).status_code == 200
                    assert pg_support.drop_connections(url) >= 1
                    codes = [http.get(path).status_code for _ in range(5)]
                    codes += [http.get("/healthz").status_code for _ in range(3)]
                    assert codes == [200] * 8
        finally:
            server.stop()
            inst.store.close()
