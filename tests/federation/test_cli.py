"""``tansiq peer ...`` and ``tansiq sync`` as a new operator uses them: the real command in
a subprocess, against a partner instance served on loopback.

The local instance L is set up with the CLI only; the partner P is a Tansiq instance
(tests/federation/world.py) where L has a sync account, ``sync-l``, whose token the
operator of L was given and pipes into ``tansiq peer add --token-stdin``.
"""

from __future__ import annotations

import stat
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tansiq.access import admin
from tansiq.ingest.bundle import write_objects
from tansiq.storage.sqlite import SQLiteStore
from tests.cli.conftest import Result, Tansiq
from tests.conftest import SQLiteBackend, free_port
from tests.federation.world import (
    ALL_MARKS,
    NOT_RED,
    Agency,
    build_agency,
    indicator,
    keys_of,
    sample,
    vkey,
)

LOCAL_ORG = "Agency L"
PARTNER_ORG = "Agency P"  # the organisation partner P acts for on L


class Operator:
    """Runs ``tansiq --database L ...`` and keeps every output, to look for secrets."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.run = Tansiq(db)
        self.outputs: list[str] = []

    def __call__(self, *args: str, input: str | None = None) -> Result:
        result = self.run(*args, input=input)
        self.outputs += [result.out, result.err]
        return result

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.code == 0, (args, result.err)
        assert "Traceback" not in result.err
        return result

    def fails(self, *args: str, input: str | None = None) -> str:
        """Run a command that must fail with one line on stderr and exit code 1."""
        result = self(*args, input=input)
        assert result.code == 1, (args, result.code, result.out, result.err)
        assert "Traceback" not in result.err, (args, result.err)
        assert result.out == "", (args, result.out)
        lines = result.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.err)
        return lines[0]

    @contextmanager
    def store(self) -> Iterator[SQLiteStore]:
        """The database, opened in this process (beside the commands' processes)."""
        store = SQLiteStore(self.db)
        try:
            yield store
        finally:
            store.close()

    def versions(self, alias: str = "shared") -> Counter[tuple[str, str]]:
        with self.store() as store:
            coll = admin.require_collection(store, alias)
            return Counter((v.id, v.version) for v in store.iter_versions(coll.id))

    def write(self, objects: list[dict[str, Any]]) -> None:
        """What the analyst writes into 'shared'."""
        with self.store() as store:
            coll = admin.require_collection(store, "shared")
            results = write_objects(store, coll.id, admin.principal(store, "analyst"), objects)
            assert all(r.ok for r in results), results


def _add(name: str, url: str, *credentials: str) -> tuple[str, ...]:
    """``tansiq peer add NAME --url URL --org 'Agency P' CREDENTIAL OPTIONS``."""
    return ("peer", "add", name, "--url", url, "--org", PARTNER_ORG, *credentials)


@pytest.fixture
def partner(tmp_path: Path) -> Iterator[Agency]:
    p = build_agency(tmp_path, "p", ["l"])
    yield p
    p.close()


@pytest.fixture
def local(tmp_path: Path) -> Operator:
    """Instance L (made with ``tansiq init``; the rest with the library, for speed): its
    organisation, the partner's, an analyst, 'shared' (granted to the partner's
    organisation) and 'private' (not granted to it)."""
    op = Operator(tmp_path / "l" / "tansiq.db")
    op.db.parent.mkdir()
    op.ok("init")
    with op.store() as store:
        admin.add_org(store, LOCAL_ORG)
        admin.add_org(store, PARTNER_ORG)
        admin.add_user(store, "analyst", LOCAL_ORG, "analyst")
        both = [LOCAL_ORG, PARTNER_ORG]
        admin.add_collection(store, "Shared", alias="shared", read=both, write=[LOCAL_ORG])
        admin.add_collection(store, "Private", alias="private", read=[LOCAL_ORG])
    return op


def test_connect_sync_watch_and_remove_a_peer(local: Operator, partner: Agency) -> None:
    token = partner.sync_token("l")
    p_first, p_later = sample("from P")
    partner.write([*p_first.values(), *p_later])
    l_first, l_later = sample("from L")
    local.write([*l_first.values(), *l_later])

    added = local.ok(*_add("p", partner.discovery, "--token-stdin"), input=token + "\n")
    assert added.out.startswith(f"peer 'p' added ({partner.discovery}), acting for 'Agency P'")
    mapped = local.ok("peer", "map", "p", "--pull", "shared:shared", "--push", "shared:shared")
    assert mapped.out.splitlines() == [
        "p: pull shared (on the peer) -> shared (here)",
        "p: push shared (here) -> shared (on the peer)",
    ]

    check = local.ok("peer", "check", "p", "--json").json()
    assert check["peer"] == "p" and check["api_root"] == f"{partner.server.url}/default/"
    assert [(c["alias"], c["can_read"], c["can_write"]) for c in check["collections"]] == [
        ("shared", True, True)
    ]

    (listed,) = local.ok("peer", "list", "--json").json()["peers"]
    assert listed["name"] == "p" and listed["org"] == PARTNER_ORG and listed["auth"] == "token"
    assert "secret" not in listed and "token" not in listed
    assert [m["direction"] for m in listed["mappings"]] == ["pull", "push"]

    # never synced yet: status says so
    (never,) = local.ok("peer", "status", "--json").json()["peers"]
    assert never["last_success"] is None and never["last_error"] is None
    push_status = next(m for m in never["mappings"] if m["direction"] == "push")
    assert push_status["lag_objects"] == sum(
        keys_of([*l_first.values(), *l_later], NOT_RED).values()
    )

    synced = local.ok("sync", "--once")
    lines = synced.out.splitlines()
    n_pull = sum(keys_of([*p_first.values(), *p_later], NOT_RED).values())
    n_push = sum(keys_of([*l_first.values(), *l_later], NOT_RED).values())
    assert lines == [
        f"p: pull shared -> shared: {n_pull} versions, {n_pull} added, 0 unchanged",
        f"p: push shared -> shared: {n_push} versions sent, {n_push} accepted",
    ]
    # both sides hold exactly what the policy allows
    l_objects, p_objects = [*l_first.values(), *l_later], [*p_first.values(), *p_later]
    assert local.versions() == keys_of(l_objects, ALL_MARKS) + keys_of(p_objects, NOT_RED)
    assert partner.versions() == keys_of(p_objects, ALL_MARKS) + keys_of(l_objects, NOT_RED)

    (status,) = local.ok("peer", "status", "p", "--json").json()["peers"]
    assert status["last_success"] and status["last_error"] is None
    assert status["consecutive_failures"] == 0 and status["next_attempt"]
    pull, push = status["mappings"]
    assert pull["direction"] == "pull" and pull["cursor"] and pull["caught_up"]
    assert pull["objects"] >= sum(keys_of(p_objects, NOT_RED).values())
    assert isinstance(pull["lag_seconds"], float) and pull["rejected"] == 0
    assert push["direction"] == "push" and push["cursor"] and push["failed"] == 0
    assert (push["lag_objects"], push["lag_seconds"]) == (0, 0.0)

    # something new locally: the push lag counts it, and its age
    fresh = indicator("from L, new", "GREEN")
    local.write([fresh, indicator("from L, new", "RED")])
    (status,) = local.ok("peer", "status", "--json").json()["peers"]
    push = status["mappings"][1]
    assert push["lag_objects"] == 1  # the RED one never goes, so it is not behind
    assert push["lag_seconds"] >= 0.0
    shown = local.ok("peer", "status").out
    assert "1 behind" in shown and "last success: 20" in shown
    local.ok("sync", "p", "--once")
    assert vkey(fresh) in partner.versions()

    # something new at the partner: --remote asks it how far the pull is behind
    partner.write([indicator("from P, new", "GREEN"), indicator("from P, new", "AMBER")])
    (status,) = local.ok("peer", "status", "p", "--json").json()["peers"]
    assert status["mappings"][0]["lag_objects"] is None  # not asked
    (status,) = local.ok("peer", "status", "p", "--remote", "--json").json()["peers"]
    # the two new ones, and the version we pushed there after the pull cursor
    assert status["mappings"][0]["lag_objects"] == 3
    assert "3 behind" in local.ok("peer", "status", "p", "--remote").out.splitlines()[-2]
    local.ok("sync", "p", "--once")

    # a peer that is down: `sync --once` syncs the others, exits 1 and names it
    gone = f"http://127.0.0.1:{free_port()}/taxii2/"
    local.ok(*_add("gone", gone, "--token-stdin"), input="another-secret-token\n")
    local.ok("peer", "map", "gone", "--push", "shared:shared", "--no-check")
    down = local("sync", "--once")
    assert down.code == 1 and "Traceback" not in down.err
    assert down.out.startswith("p: pull shared -> shared: ")  # the healthy peer synced
    (error_line,) = down.err.splitlines()
    assert error_line.startswith("gone: push ") and "cannot connect" in error_line
    by_name = {s["name"]: s for s in local.ok("peer", "status", "--json").json()["peers"]}
    assert by_name["gone"]["consecutive_failures"] == 1
    assert "cannot connect" in by_name["gone"]["last_error"]
    assert by_name["gone"]["last_success"] is None
    assert by_name["p"]["last_error"] is None

    # credentials are in the database file only encrypted (a password as well)
    local.ok(
        *_add("q", partner.discovery, "--user", "someone", "--password-stdin"),
        input="a password of the partner\n",
    )
    stored = SQLiteBackend().stored_bytes(str(local.db))
    assert b"peer/p" in stored and b"peer/q" in stored  # the registry is in this file...
    for secret in (token, "another-secret-token", "a password of the partner"):
        assert secret.encode() not in stored  # ...but not the secrets
    assert (local.db.parent / "tansiq.db.peer-key").exists()  # the key is beside it

    # removal: the peer, its credentials and its state go; what it sent stays
    removed = local.ok("peer", "remove", "p", "--json").json()
    assert removed == {"peer": "p", "removed": True}
    listing = local.ok("peer", "list").out.splitlines()
    assert [line.split("\t")[0] for line in listing if not line.startswith(" ")] == ["gone", "q"]
    assert local.fails("peer", "status", "p") == (
        "error: no peer named 'p'; see 'tansiq peer list'"
    )
    assert keys_of(p_objects, NOT_RED) <= local.versions()

    # the credentials were never printed; the key file is the operator's only
    for secret in (token, "another-secret-token", "a password of the partner"):
        assert not any(secret in out for out in local.outputs)
    key_file = Path(str(local.db) + ".peer-key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_bad_input_gets_one_line_errors(local: Operator, partner: Agency) -> None:
    token = partner.sync_token("l")
    url = partner.discovery

    def add(name: str, url: str, *options: str, stdin: str = token + "\n") -> str:
        return local.fails(*_add(name, url, *options), input=stdin)

    assert local.fails(
        "peer", "add", "q", "--url", url, "--org", "Nope", "--token-stdin", input=token + "\n"
    ) == ("error: unknown organisation 'Nope'")
    assert add("q", "ftp://peer.example/taxii2/", "--token-stdin") == (
        "error: discovery URL 'ftp://peer.example/taxii2/' is not an http:// or https:// URL"
    )
    assert add("Bad Name", url, "--token-stdin").startswith(
        "error: peer name 'Bad Name' must be 1-63 lower-case letters"
    )
    assert add("q", url, "--token-stdin", stdin="") == (
        "error: --token-stdin was given but standard input holds nothing"
    )
    assert add("q", url, "--user", "someone") == ("error: --user and --password-stdin go together")
    assert local.ok("peer", "list").out == "no peers\n"  # none of those was added

    local.ok(*_add("p", url, "--token-stdin"), input=token + "\n")
    assert add("p", url, "--token-stdin") == "error: peer 'p' already exists"
    assert local.fails("peer", "map", "p", "--pull", "shared") == (
        "error: --pull 'shared' must look like REMOTE:LOCAL (collection ids or aliases)"
    )
    assert local.fails("peer", "map", "p") == (
        "error: give at least one --pull REMOTE:LOCAL or --push LOCAL:REMOTE"
    )
    assert local.fails("peer", "map", "p", "--pull", "shared:nope") == (
        "error: unknown collection 'nope'"
    )
    assert local.fails("peer", "map", "p", "--push", "private:shared") == (
        "error: organisation 'Agency P' (peer 'p') is not granted read on 'Private'; "
        "first: tansiq grant private 'Agency P'"
    )
    assert local.fails("peer", "map", "p", "--pull", "elsewhere:shared").startswith(
        "error: no collection 'elsewhere' on "
    )
    assert local.fails("peer", "map", "nobody", "--pull", "shared:shared") == (
        "error: no peer named 'nobody'; see 'tansiq peer list'"
    )
    assert local.ok("peer", "list", "--json").json()["peers"][0]["mappings"] == []

    # a peer nobody answers for: `peer check` says so in one line
    local.ok(
        *_add("gone", f"http://127.0.0.1:{free_port()}/taxii2/", "--token-stdin"),
        input=token + "\n",
    )
    line = local.fails("peer", "check", "gone")
    assert line.startswith("error: GET http://127.0.0.1:") and "cannot connect" in line
    assert local.fails("sync", "nobody", "--once") == (
        "error: no peer named 'nobody'; see 'tansiq peer list'"
    )
    assert not any(token in out for out in local.outputs)


def test_a_bad_lease_setting_stops_serve_with_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    db = str(tmp_path / "t.db")
    env = {k: v for k, v in os.environ.items() if k != "TANSIQ_DATABASE"}
    init = subprocess.run([sys.executable, "-m", "tansiq", "--database", db, "init"], env=env)
    assert init.returncode == 0
    env["TANSIQ_PEER_LEASE_SECONDS"] = "-3"
    r = subprocess.run(
        [sys.executable, "-m", "tansiq", "--database", db, "serve", "--port", "1"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == (
        "error: TANSIQ_PEER_LEASE_SECONDS='-3' must be a positive number of seconds\n"
    )
