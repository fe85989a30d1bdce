"""The audit log: every write (TAXII POST, CLI import) and every read (objects, manifest,
object, versions, export) is recorded with who, where, what and how many; reads are
buffered and flushed within about a second and on shutdown; ``tansiq audit verify``
catches rows edited, deleted, inserted, swapped or cut off directly in the database (the
SQLite file; the PostgreSQL tables, through a plain connection) and names the first bad
entry; ``tansiq audit show`` filters by user, organisation, collection
and time."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tansiq.storage.audit_chain import chain_hash
from tansiq.storage.base import AuditRow
from tests.conftest import Backend, LiveServer, free_port

from .conftest import Site, build_site, close_site
from .support import TAXII, TLP_GREEN, TLP_RED, ipv4, malware, run_cli


def rows(site: Site, **filters: Any) -> list[AuditRow]:
    return list(site.store.iter_audit(**filters))


def wait_for(find: Callable[[], list[AuditRow]], timeout: float = 3.0) -> list[AuditRow]:
    deadline = time.monotonic() + timeout
    while True:
        found = find()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def entries_after(site: Site, last_id: int, action: str) -> list[AuditRow]:
    return [r for r in rows(site) if r.id > last_id and r.action == action]


def head_id(site: Site) -> int:
    all_rows = rows(site)
    return all_rows[-1].id if all_rows else 0


def ids_of(site: Site, user: str) -> tuple[int, int]:
    u = site.store.get_user(user)
    assert u is not None
    return u.id, u.org_id


# --------------------------------------------------------------------------- writes


def test_a_taxii_write_is_recorded_with_every_outcome(shared_site: Site) -> None:
    good = malware(markings=[TLP_GREEN])
    sco = ipv4(f"192.0.2.{uuid.uuid4().int % 200 + 1}", markings=[TLP_GREEN])
    invalid = {**malware(), "name": 5}
    posing = malware(created_by_ref=shared_site.identity("Beta Police"))
    start = head_id(shared_site)
    r = shared_site.client("alice").post(
        shared_site.base("shared") + "objects/", [good, invalid, sco, posing]
    )
    assert r.status_code == 202
    sco_version = next(s["version"] for s in r.json()["successes"] if s["id"] == sco["id"])
    (entry,) = entries_after(shared_site, start, "objects.write")
    uid, oid = ids_of(shared_site, "alice")
    assert (entry.actor, entry.user_id, entry.org_id, entry.collection_id) == (
        "alice",
        uid,
        oid,
        shared_site.colls["shared"].id,
    )
    assert json.loads(entry.detail) == {
        "via": "taxii",
        "counts": {"added": 2, "invalid": 2},
        "objects": {
            "added": [[good["id"], good["modified"]], [sco["id"], sco_version]],
            "invalid": [[invalid["id"], invalid["modified"]], [posing["id"], posing["modified"]]],
        },
    }
    # posting the same again: unchanged
    start = head_id(shared_site)
    shared_site.client("alice").post(shared_site.base("shared") + "objects/", [good])
    (entry,) = entries_after(shared_site, start, "objects.write")
    assert json.loads(entry.detail)["objects"] == {"unchanged": [[good["id"], good["modified"]]]}


def test_a_cli_import_is_recorded(shared_site: Site, tmp_path: Path) -> None:
    obj = malware(markings=[TLP_GREEN])
    path = tmp_path / "one.json"
    path.write_text(json.dumps(obj))
    start = head_id(shared_site)
    done = shared_site.cli("import", str(path), "--collection", "alpha", "--user", "amy")
    assert done.code == 0, done.err
    (entry,) = entries_after(shared_site, start, "objects.write")
    uid, oid = ids_of(shared_site, "amy")
    assert (entry.actor, entry.user_id, entry.org_id, entry.collection_id) == (
        "amy",
        uid,
        oid,
        shared_site.colls["alpha"].id,
    )
    assert json.loads(entry.detail) == {
        "via": "cli-import",
        "counts": {"added": 1},
        "objects": {"added": [[obj["id"], obj["modified"]]]},
    }


# --------------------------------------------------------------------------- reads


def test_reads_are_recorded_within_a_second(shared_site: Site) -> None:
    green = malware(markings=[TLP_GREEN])
    red = malware(markings=[TLP_RED])
    shared_site.client("alice").post(shared_site.base("shared") + "objects/", [green, red])
    bob = shared_site.client("bob")
    base = shared_site.base("shared")
    uid, oid = ids_of(shared_site, "bob")
    requests: list[tuple[str, dict[str, str], str, dict[str, Any]]] = [
        (
            "objects/",
            {"match[id]": f"{green['id']},{red['id']}", "match[type]": "malware"},
            "objects.read",
            {},
        ),
        ("manifest/", {"match[id]": f"{green['id']},{red['id']}"}, "manifest.read", {}),
        (f"objects/{green['id']}/", {}, "object.read", {}),
        (f"objects/{green['id']}/versions/", {}, "versions.read", {}),
        (f"objects/{red['id']}/", {}, "object.read", {}),
    ]
    for path, params, action, _ in requests:
        start = head_id(shared_site)
        sent = time.monotonic()
        r = bob.get(base + path, params)
        assert r.status_code in (200, 404)
        returned = (
            len(r.json().get("objects", r.json().get("versions", [])))
            if r.status_code == 200
            else 0
        )
        found = wait_for(lambda a=action, s=start: entries_after(shared_site, s, a), 3.0)
        assert time.monotonic() - sent < 2.5, "the read was not flushed within about a second"
        assert len(found) == 1, (action, found)
        entry = found[0]
        assert (entry.actor, entry.user_id, entry.org_id, entry.collection_id) == (
            "bob",
            uid,
            oid,
            shared_site.colls["shared"].id,
        )
        detail = json.loads(entry.detail)
        assert detail["filters"] == params
        assert detail["returned"] == returned
        assert detail["paged"] is False
    # bob got the GREEN object only: the hidden RED one is not counted
    assert returned == 0


def test_paged_reads_are_recorded_without_the_token(shared_site: Site) -> None:
    objs = [malware(markings=[TLP_GREEN]) for _ in range(3)]
    shared_site.client("alice").post(shared_site.base("shared") + "objects/", objs)
    ids = ",".join(o["id"] for o in objs)
    rita = shared_site.client("rita")
    start = head_id(shared_site)
    first = rita.get(shared_site.base("shared") + "manifest/", {"match[id]": ids, "limit": "2"})
    (entry,) = wait_for(lambda: entries_after(shared_site, start, "manifest.read"))
    assert json.loads(entry.detail) == {
        "filters": {"match[id]": ids, "limit": "2"},
        "paged": False,
        "returned": 2,
    }
    start = entry.id
    second = rita.get(
        shared_site.base("shared") + "manifest/",
        {"match[id]": ids, "limit": "2", "next": first.json()["next"]},
    )
    assert second.status_code == 200
    (entry,) = wait_for(lambda: entries_after(shared_site, start, "manifest.read"))
    detail = json.loads(entry.detail)
    assert detail == {"filters": {"match[id]": ids, "limit": "2"}, "paged": True, "returned": 1}
    assert first.json()["next"] not in entry.detail


def test_anonymous_reads_are_recorded(shared_site: Site) -> None:
    shared_site.client("alice").post(
        shared_site.base("pub") + "objects/", [malware(markings=[TLP_GREEN])]
    )
    start = head_id(shared_site)
    assert shared_site.client(None).get(shared_site.base("pub") + "objects/").status_code == 200
    (entry,) = wait_for(lambda: entries_after(shared_site, start, "objects.read"))
    assert (entry.actor, entry.user_id, entry.org_id) == ("anonymous", None, None)
    assert json.loads(entry.detail)["returned"] == 0


def test_an_export_for_a_user_is_recorded(shared_site: Site) -> None:
    shared_site.client("alice").post(
        shared_site.base("alpha") + "objects/",
        [malware(markings=[TLP_GREEN]), malware(markings=[TLP_RED])],
    )
    visible = len(
        shared_site.client("rita")
        .get(shared_site.base("alpha") + "objects/", {"match[version]": "all"})
        .json()["objects"]
    )
    start = head_id(shared_site)
    done = shared_site.cli("export", "--collection", "alpha", "--user", "rita")
    assert done.code == 0, done.err
    assert len(json.loads(done.out)["objects"]) == visible
    (entry,) = entries_after(shared_site, start, "export")
    uid, oid = ids_of(shared_site, "rita")
    assert (entry.actor, entry.user_id, entry.org_id, entry.collection_id) == (
        "rita",
        uid,
        oid,
        shared_site.colls["alpha"].id,
    )
    assert json.loads(entry.detail)["returned"] == visible


def test_buffered_reads_are_flushed_on_shutdown(site: Site) -> None:
    """With a flush interval far away, a read is written when the server shuts down."""
    live = LiveServer(site.store)
    live.server.config.app.state.services.audit.flush_every = 3600.0
    live.start()
    try:
        start = head_id(site)
        with httpx.Client(
            base_url=live.url,
            headers={"Accept": TAXII, "Authorization": f"Bearer {site.tokens['rita']}"},
        ) as c:
            assert c.get(site.base("shared") + "objects/").status_code == 200
        time.sleep(0.3)
        assert entries_after(site, start, "objects.read") == []  # still buffered
    finally:
        live.stop()
    (entry,) = entries_after(site, start, "objects.read")
    assert entry.actor == "rita"


def test_tansiq_serve_flushes_on_sigterm(database: str) -> None:
    site = build_site(database)
    site.server.stop()
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tansiq",
            "--database",
            site.database,
            "serve",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        headers = {"Accept": TAXII, "Authorization": f"Bearer {site.tokens['rita']}"}
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "/taxii2/", headers=headers, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "tansiq serve did not start"
                time.sleep(0.1)
        start = head_id(site)
        r = httpx.get(url + site.base("alpha") + "manifest/", headers=headers, timeout=10)
        assert r.status_code == 200
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    found = [r for r in site.store.iter_audit() if r.id > start and r.action == "manifest.read"]
    assert [r.actor for r in found] == ["rita"]
    site.store.close()


# --------------------------------------------------------------------------- verify


@pytest.fixture(scope="module")
def audited_db(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database with a few dozen audit entries, closed (copied by each test)."""
    with backend.database(tmp_path_factory.mktemp("audited"), "audited") as database:
        site = build_site(database)
        alice = site.client("alice")
        for _ in range(5):
            alice.post(site.base("shared") + "objects/", [malware(markings=[TLP_GREEN])])
            alice.get(site.base("shared") + "objects/")
        site.cli("grant", "pub", "Beta Police")
        close_site(site)  # stopping the server flushes the buffered reads
        yield database


@dataclass
class Db:
    """A closed copy of the audited database, and raw access to it (no store open)."""

    backend: Backend
    location: str


@pytest.fixture
def db(backend: Backend, audited_db: str, tmp_path: Path) -> Iterator[Db]:
    with backend.copy(audited_db, tmp_path) as copy:
        yield Db(backend, copy)


def audit_rows(db: Db) -> list[tuple[Any, ...]]:
    return db.backend.fetch(
        db.location,
        "SELECT id, at, actor, user_id, org_id, action, collection_id, detail, prev_hash, hash "
        "FROM audit ORDER BY id",
    )


def tamper(db: Db, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """Change the audit table behind Tansiq's back (one transaction)."""
    db.backend.execute(db.location, *statements)


def verify(db: Db) -> tuple[int, str, str]:
    done = run_cli(db.location, "audit", "verify")
    return done.code, done.out, done.err


def broken_at(db: Db, entry: int) -> str:
    code, out, err = verify(db)
    assert (code, out) == (1, ""), (code, out, err)
    assert err.startswith(f"error: audit log broken at entry {entry}: "), err
    assert err.endswith("\n") and err.count("\n") == 1, err
    as_json = run_cli(db.location, "audit", "verify", "--json")
    assert as_json.code == 1
    data = as_json.json()
    assert (data["ok"], data["first_bad"]) == (False, entry), data
    return err


def test_an_intact_log_verifies(db: Db) -> None:
    count = len(audit_rows(db))
    assert count >= 10
    assert verify(db) == (0, f"audit log intact: {count} entries verified\n", "")
    as_json = run_cli(db.location, "audit", "verify", "--json")
    assert (as_json.code, as_json.json()) == (
        0,
        {"ok": True, "entries": count, "first_bad": None, "reason": None},
    )


@pytest.mark.parametrize(
    "column,value",
    [
        ("detail", '{"via":"taxii"}'),
        ("actor", "mallory"),
        ("at", "2020-01-01T00:00:00.000000Z"),
        ("user_id", 999),
        ("action", "objects.read"),
    ],
)
def test_an_edited_row_is_named(db: Db, column: str, value: Any) -> None:
    target = len(audit_rows(db)) // 2
    tamper(db, (f"UPDATE audit SET {column} = ? WHERE id = ?", (value, target)))
    assert "altered" in broken_at(db, target)


def test_a_deleted_row_is_named(db: Db) -> None:
    target = len(audit_rows(db)) // 2
    tamper(db, ("DELETE FROM audit WHERE id = ?", (target,)))
    assert "missing" in broken_at(db, target) or "removed" in broken_at(db, target)


def test_the_first_row_deleted_is_named(db: Db) -> None:
    tamper(db, ("DELETE FROM audit WHERE id = 1", ()))
    broken_at(db, 1)


def _insert_at(db: Db, position: int, forge: bool) -> None:
    """Shift entries from ``position`` up by one and insert a row there; ``forge``: give it
    the hash the chain expects at that place (an attacker who knows the algorithm)."""
    all_rows = audit_rows(db)
    prev = all_rows[position - 2]
    at = prev[1]
    detail = '{"via":"forged"}'
    h = (
        chain_hash(prev[9], position, at, "mallory", None, None, "objects.write", None, detail)
        if forge
        else "0" * 64
    )
    tamper(
        db,
        *(
            ("UPDATE audit SET id = ? WHERE id = ?", (r[0] + 1, r[0]))
            for r in reversed(all_rows[position - 1 :])
        ),
        (
            "INSERT INTO audit (id, at, actor, user_id, org_id, action, collection_id, detail, prev_hash, hash) "
            "VALUES (?, ?, 'mallory', NULL, NULL, 'objects.write', NULL, ?, ?, ?)",
            (position, at, detail, prev[9], h),
        ),
    )


def test_an_inserted_row_is_named(db: Db) -> None:
    target = len(audit_rows(db)) // 2
    _insert_at(db, target, forge=False)
    broken_at(db, target)


def test_a_forged_inserted_row_breaks_the_chain_after_it(db: Db) -> None:
    target = len(audit_rows(db)) // 2
    _insert_at(db, target, forge=True)
    # the forged row itself chains correctly: the next one no longer follows it
    broken_at(db, target + 1)


def test_a_row_appended_at_the_end_is_named(db: Db) -> None:
    all_rows = audit_rows(db)
    last = all_rows[-1]
    new_id = last[0] + 1
    detail = '{"via":"forged"}'
    h = chain_hash(last[9], new_id, last[1], "mallory", None, None, "objects.write", None, detail)
    tamper(
        db,
        (
            "INSERT INTO audit (id, at, actor, user_id, org_id, action, collection_id, detail, prev_hash, hash) "
            "VALUES (?, ?, 'mallory', NULL, NULL, 'objects.write', NULL, ?, ?, ?)",
            (new_id, last[1], detail, last[9], h),
        ),
    )
    broken_at(db, new_id)


def test_two_swapped_rows_are_named(db: Db) -> None:
    all_rows = audit_rows(db)
    i, j = 3, len(all_rows) - 2
    cols = (
        "at",
        "actor",
        "user_id",
        "org_id",
        "action",
        "collection_id",
        "detail",
        "prev_hash",
        "hash",
    )
    sets = ", ".join(f"{c} = ?" for c in cols)
    tamper(
        db,
        (f"UPDATE audit SET {sets} WHERE id = ?", (*all_rows[j - 1][1:], i)),
        (f"UPDATE audit SET {sets} WHERE id = ?", (*all_rows[i - 1][1:], j)),
    )
    broken_at(db, i)


def test_a_truncated_tail_is_named(db: Db) -> None:
    count = len(audit_rows(db))
    tamper(db, ("DELETE FROM audit WHERE id > ?", (count - 2,)))
    assert "truncated" in broken_at(db, count - 1)


def test_a_truncated_tail_stays_detected_after_new_entries(db: Db) -> None:
    """Cutting off the last entries, then letting the instance carry on: the entries
    appended afterwards must not paper over the cut."""
    count = len(audit_rows(db))
    tamper(db, ("DELETE FROM audit WHERE id > ?", (count - 2,)))
    done = run_cli(db.location, "org", "add", "Delta Office")
    assert done.code == 0, done.err
    code, out, err = verify(db)
    assert code == 1, (out, err)
    assert err.startswith(f"error: audit log broken at entry {count - 1}: "), err


def test_a_deleted_last_row_stays_detected_after_new_entries(db: Db) -> None:
    count = len(audit_rows(db))
    tamper(db, ("DELETE FROM audit WHERE id = ?", (count,)))
    assert run_cli(db.location, "org", "add", "Delta Office").code == 0
    code, out, err = verify(db)
    assert code == 1, (out, err)


# --------------------------------------------------------------------------- show


def test_audit_show_filters(site: Site) -> None:
    shared, alpha = site.base("shared"), site.base("alpha")
    site.client("alice").post(shared + "objects/", [malware(markings=[TLP_GREEN])])
    site.client("bob").post(shared + "objects/", [malware(markings=[TLP_GREEN])])
    time.sleep(0.01)
    middle = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    time.sleep(0.01)
    site.client("alice").post(alpha + "objects/", [malware(markings=[TLP_GREEN])])
    site.client("rita").get(alpha + "objects/")
    assert wait_for(lambda: [r for r in rows(site) if r.action == "objects.read"])
    everything = rows(site)

    def show(*args: str) -> list[int]:
        done = site.cli("audit", "show", "--json", "--limit", "100000", *args)
        assert done.code == 0, done.err
        return [e["id"] for e in done.json()["entries"]]

    alice_id, alpha_org = ids_of(site, "alice")
    _, beta_org = ids_of(site, "bob")
    assert show("--user", "alice") == [r.id for r in everything if r.user_id == alice_id]
    assert len(show("--user", "alice")) == 2
    assert show("--org", "Beta Police") == [r.id for r in everything if r.org_id == beta_org]
    assert show("--org", "Alpha CERT") == [r.id for r in everything if r.org_id == alpha_org]
    assert show("--collection", "alpha") == [
        r.id for r in everything if r.collection_id == site.colls["alpha"].id
    ]
    assert len(show("--collection", "alpha")) == 2
    assert show("--since", middle) == [r.id for r in everything if r.at >= middle]
    assert show("--until", middle) == [r.id for r in everything if r.at <= middle]
    assert show("--collection", "shared", "--since", middle) == []
    assert show("--user", "alice", "--collection", "alpha") == [
        r.id
        for r in everything
        if r.user_id == alice_id and r.collection_id == site.colls["alpha"].id
    ]

    done = site.cli("audit", "show", "--user", "rita", "--json")
    (entry,) = done.json()["entries"]
    assert set(entry) == {"id", "at", "actor", "action", "collection", "detail"}
    assert (entry["actor"], entry["action"], entry["collection"]) == (
        "rita",
        "objects.read",
        site.colls["alpha"].id,
    )
    text = site.cli("audit", "show", "--user", "rita").out
    (line,) = text.splitlines()
    assert line.split("\t")[:5] == [
        str(entry["id"]),
        entry["at"],
        "rita",
        "objects.read",
        site.colls["alpha"].id,
    ]
    for args, err in [
        (("--user", "nobody"), "error: unknown user 'nobody'\n"),
        (("--org", "Nobody"), "error: unknown organisation 'Nobody'\n"),
        (("--collection", "nosuch"), "error: unknown collection 'nosuch'\n"),
        (
            ("--since", "last week"),
            "error: --since 'last week' is not a timestamp like 2026-11-01T00:00:00Z\n",
        ),
    ]:
        failed = site.cli("audit", "show", *args)
        assert (failed.code, failed.out, failed.err) == (1, "", err)
