"""Operator commands: init, org, user, collection — outputs, --json and exit codes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.cli.conftest import Tansiq, run
from tests.conftest import BACKENDS
from tests.storage import pg_support


def migration_names() -> list[str]:
    """The schema migrations the package ships (one file per dialect, one name for both)."""
    folder = Path(__file__).resolve().parents[2] / "tansiq" / "storage" / "migrations"
    return sorted(p.name.removesuffix(".sql") for p in folder.glob("*.sql") if ".pg." not in p.name)


def test_init_is_idempotent(tansiq: Tansiq) -> None:
    first = tansiq("init", "--json")
    assert first.code == 0, first.err
    assert first.json()["applied_migrations"] == migration_names()
    assert first.json()["applied_migrations"][0] == "0001_initial"
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


def test_database_from_environment(tansiq: Tansiq) -> None:
    first = run(["init", "--json"], TANSIQ_DATABASE=tansiq.db)
    assert first.code == 0, first.err
    assert first.json()["database"] == tansiq.db
    assert run(["org", "add", "CERT Alpha"], TANSIQ_DATABASE=tansiq.db).code == 0
    # the same database, named by --database this time
    assert [o["name"] for o in tansiq("org", "list", "--json").json()["organisations"]] == [
        "CERT Alpha"
    ]
    if tansiq.backend is not None and tansiq.backend.name == "sqlite":
        assert Path(tansiq.db).exists()


def test_unreachable_postgres_is_refused_clearly() -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run(["--database", f"postgresql://tansiq@127.0.0.1:{port}/x", "init"])
    assert r.code == 1
    assert r.err.startswith("error: cannot connect to PostgreSQL database 127.0.0.1:"), r.err
    assert "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_database_that_is_not_a_tansiq_database(tansiq: Tansiq) -> None:
    """SQLite: a file that is not a database at all; PostgreSQL: a database that holds
    another application's tables."""
    assert tansiq.backend is not None
    if tansiq.backend.name == "sqlite":
        Path(tansiq.db).write_text("this is not sqlite " * 100)
    else:
        tansiq.backend.execute(
            tansiq.db,
            ("CREATE TABLE settings (name TEXT, colour TEXT)", ()),
            ("INSERT INTO settings VALUES ('theme', 'dark')", ()),
        )
    r = tansiq("init")
    assert r.code == 1
    assert r.err.startswith("error: ")
    assert "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1
    r = tansiq("org", "list")
    assert r.code == 1
    assert r.err.startswith("error: ") and "Traceback" not in r.err


@pytest.mark.skipif(pg_support.unavailable() is not None, reason=pg_support.unavailable() or "")
def test_postgres_migrations_recorded_under_their_old_names_still_count() -> None:
    """Earlier versions recorded PostgreSQL migrations as 'NNNN_name.pg': such a database
    is ready as it is, and 'tansiq init' applies nothing and renames them."""
    with pg_support.blank_database() as url:
        tansiq = Tansiq(url, BACKENDS["postgres"])
        assert tansiq("init").code == 0
        BACKENDS["postgres"].execute(url, ("UPDATE schema_migrations SET name = name || '.pg'", ()))
        assert tansiq("org", "add", "CERT Alpha").code == 0
        again = tansiq("init", "--json")
        assert again.code == 0, again.err
        assert again.json()["applied_migrations"] == []
        recorded = BACKENDS["postgres"].fetch(url, "SELECT name FROM schema_migrations")
        assert sorted(name for (name,) in recorded) == migration_names()
