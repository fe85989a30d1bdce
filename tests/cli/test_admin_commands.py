"""Operator commands: init, org, user, collection — outputs, --json and exit codes."""

from __future__ import annotations

import json

from tests.cli.conftest import Tansiq


def test_init_is_idempotent(tansiq: Tansiq) -> None:
    first = tansiq("init", "--json")
    assert first.code == 0, first.err
    assert first.json()["applied_migrations"] == ["0001_initial"]
    again = tansiq("init", "--json")
    assert again.code == 0
    assert again.json()["applied_migrations"] == []


def test_commands_refuse_an_uninitialised_database(tansiq: Tansiq) -> None:
    r = tansiq("org", "add", "X")
    assert r.code == 1
    assert r.err.startswith("error: database ")
    assert "tansiq init" in r.err
    assert "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_org_add_prints_one_json_object(ready: Tansiq) -> None:
    r = ready("org", "add", "Police Beta", "--json")
    assert r.code == 0
    data = json.loads(r.out)
    assert data["name"] == "Police Beta"
    assert data["identity_id"].startswith("identity--")
    assert r.out.count("\n") == 1


def test_duplicate_org_is_refused(ready: Tansiq) -> None:
    r = ready("org", "add", "CERT Alpha")
    assert (r.code, r.err) == (1, "error: organisation 'CERT Alpha' already exists\n")


def test_user_add_shows_token_once_and_reads_password_from_stdin(ready: Tansiq) -> None:
    r = ready(
        "user",
        "add",
        "bob",
        "--org",
        "CERT Alpha",
        "--role",
        "reader",
        "--password-stdin",
        "--json",
        input="a long enough password\n",
    )
    assert r.code == 0, r.err
    data = r.json()
    assert data["token"].startswith("tsq_")
    assert data["role"] == "reader"
    listing = ready("user", "list", "--json").json()
    assert data["token"] not in json.dumps(listing)
    assert {u["name"] for u in listing["users"]} == {"alice", "bob"}


def test_user_add_refuses_short_password(ready: Tansiq) -> None:
    r = ready(
        "user",
        "add",
        "bob",
        "--org",
        "CERT Alpha",
        "--role",
        "reader",
        "--password-stdin",
        input="short\n",
    )
    assert (r.code, r.err) == (1, "error: password must be at least 12 characters long\n")
    assert "bob" not in ready("user", "list").out


def test_user_add_refuses_empty_stdin(ready: Tansiq) -> None:
    r = ready("user", "add", "bob", "--org", "CERT Alpha", "--role", "reader", "--password-stdin")
    assert r.code == 1
    assert "standard input holds no password" in r.err


def test_user_add_unknown_org(ready: Tansiq) -> None:
    r = ready("user", "add", "bob", "--org", "Nobody", "--role", "reader")
    assert (r.code, r.err) == (1, "error: unknown organisation 'Nobody'\n")


def test_collection_add_with_unknown_org(ready: Tansiq) -> None:
    r = ready("collection", "add", "X", "--read", "Nobody")
    assert (r.code, r.err) == (1, "error: unknown organisation 'Nobody'\n")


def test_collection_alias_must_be_unique_per_api_root(ready: Tansiq) -> None:
    r = ready("collection", "add", "Again", "--alias", "shared")
    assert r.code == 1
    assert "alias 'shared' already exists" in r.err
    other = ready(
        "collection", "add", "Again", "--alias", "shared", "--api-root", "second", "--json"
    )
    assert other.code == 0, other.err
    assert other.json()["api_root"] == "second"


def test_collection_list_json(ready: Tansiq) -> None:
    data = ready("collection", "list", "--json").json()
    (coll,) = data["collections"]
    assert coll["alias"] == "shared"
    assert coll["read"] == ["CERT Alpha"] and coll["write"] == ["CERT Alpha"]
    assert coll["versions"] == 0


def test_database_from_environment(tansiq: Tansiq, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    env = dict(os.environ, TANSIQ_DATABASE=str(tmp_path / "env.db"))
    proc = subprocess.run(
        [sys.executable, "-m", "tansiq", "init", "--json"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["database"] == str(tmp_path / "env.db")
    assert (tmp_path / "env.db").exists()


def test_postgres_url_is_refused_clearly(tansiq: Tansiq) -> None:
    r = tansiq("--database", "postgresql://localhost/x", "init", db=False)
    assert r.code == 1
    assert "PostgreSQL" in r.err
    assert "Traceback" not in r.err


def test_file_that_is_not_a_database(tansiq: Tansiq) -> None:
    tansiq.db.write_text("this is not sqlite " * 100)
    r = tansiq("init")
    assert r.code == 1
    assert r.err.startswith("error: ")
    assert "Traceback" not in r.err
