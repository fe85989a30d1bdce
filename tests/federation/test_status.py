"""Pull lag in versions, asked of the peer (``peer status --remote``)."""

from __future__ import annotations

from pathlib import Path

from tansiq.federation.status import peer_status
from tansiq.federation.sync import default_client
from tests.federation.world import build_agency, indicator


def test_pull_lag_counts_what_the_peer_added_after_the_cursor(tmp_path: Path) -> None:
    a = build_agency(tmp_path, "a", ["b"])
    b = build_agency(tmp_path, "b", ["a"])
    try:
        b.add_peer(a, pull=True, push=False)
        peer = b.registry.get("a")

        def lag() -> object:
            with default_client(peer, b.registry.credentials(peer)) as client:
                (m,) = peer_status(b.store, b.registry, peer, client)["mappings"]
            return m["lag_objects"]

        a.write([indicator("x", "GREEN") for _ in range(5)] + [indicator("r", "RED")])
        assert lag() == 5  # RED is not for B's sync account
        (m,) = peer_status(b.store, b.registry, peer)["mappings"]
        assert m["lag_objects"] is None  # not asked
        assert all(r.ok for r in b.sync("a"))
        assert lag() == 0
        a.write([indicator("y", "CLEAR"), indicator("z", "AMBER")])
        assert lag() == 2
        a.server.stop()
        with default_client(peer, b.registry.credentials(peer)) as client:
            client._retries = 0  # noqa: SLF001 - no need to wait through retries here
            (m,) = peer_status(b.store, b.registry, peer, client)["mappings"]
        assert m["lag_objects"] is None and m["problem"].startswith("cannot ask the peer:")
    finally:
        a.store.close()
        b.close()
