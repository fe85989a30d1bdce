"""docs/federation.md: its script runs literally on two fresh instances, and each side
ends up with exactly the versions the policy allows, with the provenance it should have."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tansiq.access import admin
from tansiq.storage.sqlite import SQLiteStore
from tests.conftest import LiveServer, free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
SCRIPT = EXAMPLES / "federation.sh"
DOC = ROOT / "docs" / "federation.md"

RABAT_HOLDS = {"MA-CLEAR", "MA-GREEN", "MA-GREEN-2", "MA-AMBER", "MA-RED"} | {
    "US-CLEAR",
    "US-GREEN",
    "US-GREEN-2",
    "US-AMBER",
}
WASHINGTON_HOLDS = {"US-CLEAR", "US-GREEN", "US-GREEN-2", "US-AMBER", "US-RED"} | {
    "MA-CLEAR",
    "MA-GREEN",
    "MA-GREEN-2",
    "MA-AMBER",
}
# what each script step printed that the doc shows word for word
STEP_LINES = [
    "washington: pull joint (on the peer) -> joint (here)",
    "washington: push joint (here) -> joint (on the peer)",
    "washington: pull joint -> joint: 3 versions, 3 added, 0 unchanged",
    "washington: push joint -> joint: 3 versions sent, 3 accepted",
    "peer 'washington': 2 cursor(s) reset",
    "washington: pull joint -> joint: 7 versions, 0 added, 7 unchanged",
    "washington: push joint -> joint: 4 versions sent, 4 accepted",
]
FINAL_LINES = [
    "amina sees in Rabat:       MA-CLEAR MA-GREEN MA-GREEN-2 MA-AMBER MA-RED "
    "US-CLEAR US-GREEN US-GREEN-2 US-AMBER",
    "grace sees in Washington:  MA-CLEAR MA-GREEN MA-GREEN-2 MA-AMBER "
    "US-CLEAR US-GREEN US-GREEN-2 US-AMBER US-RED",
    "Washington offers Madrid:  MA-CLEAR MA-GREEN MA-GREEN-2 US-CLEAR US-GREEN US-GREEN-2 US-AMBER",
]


def _sources() -> dict[str, dict[str, Any]]:
    """label ("MA-AMBER") -> the object as the docs' data files give it."""
    out = {}
    for name in ("rabat", "rabat-later", "washington", "washington-later"):
        data = json.loads((EXAMPLES / f"federation-{name}.json").read_text())
        for obj in data.get("objects", [data]):
            out[obj["name"].split(":")[0]] = obj
    return out


def _joint(database: Path) -> dict[str, list[tuple[str, str | None, bytes]]]:
    """label -> every stored version of it in "joint": (version, provenance, bytes)."""
    store = SQLiteStore(database)
    try:
        coll = admin.require_collection(store, "joint")
        out: dict[str, list[tuple[str, str | None, bytes]]] = {}
        for v in store.iter_versions(coll.id):
            label = json.loads(v.json)["name"].split(":")[0]
            out.setdefault(label, []).append((v.version, v.peer, v.json))
        return out
    finally:
        store.close()


def _state(database: Path) -> list[tuple[str, str]]:
    store = SQLiteStore(database)
    try:
        return store.list_state("")
    finally:
        store.close()


def _cli(env: dict[str, str], database: Path, *args: str) -> Any:
    proc = subprocess.run(
        ["tansiq", "--database", str(database), *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_federation_walkthrough(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["RABAT_PORT"] = str(free_port())
    env["WASHINGTON_PORT"] = str(free_port())
    env.pop("TANSIQ_DATABASE", None)
    env.pop("TANSIQ_PEER_KEY_FILE", None)
    proc = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    printed = proc.stdout.strip().splitlines()
    assert printed[-3:] == FINAL_LINES, proc.stdout
    for line in STEP_LINES:
        assert line in printed, line
    documented = DOC.read_text()
    for line in STEP_LINES + FINAL_LINES:
        assert line in documented, line

    rabat, washington = tmp_path / "rabat.db", tmp_path / "washington.db"
    sources = _sources()
    at_rabat, at_washington = _joint(rabat), _joint(washington)

    # exactly the allowed objects on each side, one version each, never twice
    assert set(at_rabat) == RABAT_HOLDS
    assert set(at_washington) == WASHINGTON_HOLDS
    for side in (at_rabat, at_washington):
        for label, versions in side.items():
            assert [v for v, _, _ in versions] == [sources[label]["modified"]], label
    # RED stayed home, whatever its id
    red_ids = {sources["MA-RED"]["id"], sources["US-RED"]["id"]}
    for database in (rabat, washington):
        store = SQLiteStore(database)
        try:
            coll = admin.require_collection(store, "joint")
            ids = Counter(v.id for v in store.iter_versions(coll.id))
        finally:
            store.close()
        assert len(red_ids & set(ids)) == 1
        assert all(n == 1 for n in ids.values())
    # identical bytes on both sides for every version that crossed
    for label in RABAT_HOLDS & WASHINGTON_HOLDS:
        assert at_rabat[label][0][2] == at_washington[label][0][2], label

    # provenance: local writes carry none; pulled versions the peer's name; pushed ones the
    # partner's sync account
    provenance_rabat = {label: versions[0][1] for label, versions in at_rabat.items()}
    assert provenance_rabat == {
        "MA-CLEAR": None,
        "MA-GREEN": None,
        "MA-GREEN-2": None,
        "MA-AMBER": None,
        "MA-RED": None,
        "US-CLEAR": "washington",  # pulled by `tansiq sync washington --once`
        "US-GREEN": "washington",
        "US-AMBER": "washington",
        "US-GREEN-2": "sync:sync-washington",  # pushed by Washington's scheduler
    }
    provenance_washington = {label: versions[0][1] for label, versions in at_washington.items()}
    assert provenance_washington == {
        "US-CLEAR": None,
        "US-GREEN": None,
        "US-GREEN-2": None,
        "US-AMBER": None,
        "US-RED": None,
        "MA-CLEAR": "sync:sync-rabat",  # pushed by Rabat's `sync --once`
        "MA-GREEN": "sync:sync-rabat",
        "MA-AMBER": "sync:sync-rabat",
        "MA-GREEN-2": "rabat",  # pulled by Washington's scheduler
    }

    # peer credentials: encrypted in the database, key file beside it, readable by its owner only
    for database in (rabat, washington):
        key = Path(f"{database}.peer-key")
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        state = _state(database)
        peers = [value for name, value in state if name.startswith("peer/")]
        assert len(peers) == 1 and json.loads(peers[0])["secret"]
        assert not any(re.search(r"tsq_", value) for _, value in state)

    # peer status after the walkthrough: healthy, nothing left to push
    for database, peer in ((rabat, "washington"), (washington, "rabat")):
        (status,) = _cli(env, database, "peer", "status")["peers"]
        assert status["name"] == peer
        assert status["last_error"] is None and status["consecutive_failures"] == 0
        assert status["last_success"] is not None
        assert "secret" not in status and "tsq_" not in json.dumps(status)
        by_direction = {m["direction"]: m for m in status["mappings"]}
        assert set(by_direction) == {"pull", "push"}
        assert by_direction["push"]["lag_objects"] == 0
        assert by_direction["pull"]["rejected"] == 0


def test_documented_commands_are_the_scripts() -> None:
    """Every sh block of docs/federation.md is quoted verbatim from the script it runs."""
    script = SCRIPT.read_text()
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 7
    for block in blocks:
        assert block in script, block
    assert "docs/federation.md" in (ROOT / "README.md").read_text()


def _run(
    env: dict[str, str], database: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["tansiq", "--database", str(database), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _instance(database: Path, own: str, partner: str) -> tuple[SQLiteStore, str]:
    """A fresh instance with its organisation, the partner's, a sync account for the
    partner and "joint" shared with it; returns the store and that account's token."""
    store = SQLiteStore(database)
    store.migrate()
    admin.ensure_api_root(store)
    admin.add_org(store, own)
    admin.add_org(store, partner)
    token = admin.add_user(store, "sync-partner", partner, "sync").token
    admin.add_collection(store, "Joint", alias="joint", read=[own, partner], write=[own, partner])
    return store, token


def test_troubleshooting_messages(tmp_path: Path) -> None:
    """What the troubleshooting section promises: one line per failed mapping, the last
    error and the backoff in the status, a fixed peer retried at the next tick."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.pop("TANSIQ_DATABASE", None)
    env.pop("TANSIQ_PEER_KEY_FILE", None)
    partner_store, token = _instance(tmp_path / "partner.db", "Partner Service", "Our Service")
    server = LiveServer(partner_store).start()
    here = tmp_path / "here.db"
    _instance(here, "Our Service", "Partner Service")[0].close()
    try:
        url = f"{server.url}/taxii2/"
        added = _run(
            env, here, "peer", "add", "partner", "--url", url, "--org", "Partner Service",
            "--token-stdin", stdin="tsq_not-the-token\n",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert "tsq_not-the-token" not in added.stdout + added.stderr

        check = _run(env, here, "peer", "check", "partner")
        assert check.returncode == 1
        assert check.stderr == (
            f"error: GET {url}: HTTP 401 Unauthorized: Authentication required: "
            "invalid credentials\n"
        )
        mapped = _run(
            env, here, "peer", "map", "partner", "--pull", "joint:joint", "--push",
            "joint:joint", "--no-check",
        )  # fmt: skip
        assert mapped.stdout.splitlines() == [
            "partner: pull joint (on the peer) -> joint (here)",
            "partner: push joint (here) -> joint (on the peer)",
        ]

        failed = _run(env, here, "sync", "partner", "--once")
        assert failed.returncode == 1
        unauthorized = (
            f"GET {url}: HTTP 401 Unauthorized: Authentication required: invalid credentials"
        )
        assert failed.stderr.splitlines() == [  # once each, nothing else
            f"partner: pull joint -> joint: failed: {unauthorized}",
            f"partner: push joint -> joint: failed: {unauthorized}",
        ]
        (status,) = json.loads(_run(env, here, "peer", "status", "--json").stdout)["peers"]
        assert status["consecutive_failures"] == 1
        assert status["last_error"].count(unauthorized) == 2  # both mappings, one line
        assert status["next_attempt"] is not None  # backing off

        # the right token: due at the scheduler's next tick, and the sync works
        fixed = _run(env, here, "peer", "set", "partner", "--token-stdin", stdin=token + "\n")
        assert fixed.returncode == 0, fixed.stderr
        (status,) = json.loads(_run(env, here, "peer", "status", "--json").stdout)["peers"]
        assert status["next_attempt"] is None
        ok = _run(env, here, "sync", "partner", "--once")
        assert (ok.returncode, ok.stderr) == (0, "")
        assert ok.stdout.splitlines() == [
            "partner: pull joint -> joint: 0 versions, 0 added, 0 unchanged",
            "partner: push joint -> joint: 0 versions sent, 0 accepted",
        ]

        # the peer is unreachable: retried, then one line per mapping
        gone = f"http://127.0.0.1:{free_port()}/taxii2/"
        assert _run(env, here, "peer", "set", "partner", "--url", gone).returncode == 0
        down = _run(env, here, "sync", "partner", "--once")
        assert down.returncode == 1
        lines = down.stderr.splitlines()
        assert [line.split(": failed: ")[0] for line in lines] == [
            "partner: pull joint -> joint",
            "partner: push joint -> joint",
        ]
        assert "cannot connect" in lines[0] and "(gave up after 4 attempts)" in lines[0]
        # the peer being down, the push is not even tried (no second round of retries)
        assert lines[1].endswith("failed: skipped: the peer failed on an earlier mapping")
    finally:
        server.stop()
        partner_store.close()


def test_python_snippet_runs(tmp_path: Path) -> None:
    """The taxii2-client snippet of docs/federation.md, run as written against a live
    server (its URL and token substituted)."""
    import contextlib
    import io

    from tansiq.ingest.bundle import write_objects

    text = (ROOT / "docs" / "federation.md").read_text()
    (snippet,) = re.findall(r"```python\n(.*?)```", text, re.S)
    store = SQLiteStore(tmp_path / "w.db")
    store.migrate()
    admin.ensure_api_root(store)
    admin.add_org(store, "US Service")
    token = admin.add_user(store, "grace", "US Service", "analyst").token
    coll = admin.add_collection(
        store, "Sahel joint cell", alias="joint", read=["US Service"], write=["US Service"]
    )
    indicator = {
        "type": "indicator", "spec_version": "2.1",
        "id": "indicator--11111111-1111-4111-8111-111111111111",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": "US-GREEN", "pattern": "[ipv4-addr:value = '192.0.2.1']",
        "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00.000Z",
    }  # fmt: skip
    assert write_objects(store, coll.id, admin.principal(store, "grace"), [indicator])[0].ok
    server = LiveServer(store).start()
    try:
        code = snippet.replace("http://127.0.0.1:8002", server.url).replace("tsq_...", token)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "docs/federation.md", "exec"), {})
        assert out.getvalue() == "['US-GREEN']\n"
    finally:
        server.stop()
        store.close()
