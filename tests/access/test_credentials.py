"""Credentials: tokens (hashed, shown once, revocable, optional expiry, last use recorded),
passwords with lockout, disabled users, and the operator commands that manage them.

Every credential that does not authenticate answers 401 with WWW-Authenticate and one
and the same body, whatever was wrong with it.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Backend

from .conftest import SITE_USERS, Site
from .support import PASSWORD, TLP_GREEN, basic, malware


def ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def read(site: Site, authorization: str | None, alias: str = "shared") -> httpx.Response:
    return site.raw(authorization).get(site.base(alias) + "objects/")


def assert_401(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 401, r.text
    challenge = r.headers.get("www-authenticate", "")
    schemes = {
        part.strip().split(" ")[0].lower() for part in challenge.split(",") if "realm" in part
    }
    assert {"basic", "bearer"} <= schemes, challenge
    assert r.headers["content-type"] == "application/taxii+json;version=2.1"
    body: dict[str, Any] = r.json()
    assert body["http_status"] == "401"
    return body


def newest_token_id(site: Site) -> int:
    done = site.cli("token", "list", "--json")
    assert done.code == 0, done.err
    return int(done.json()["tokens"][-1]["id"])


# --------------------------------------------------------------------------- good ones


@pytest.mark.parametrize("scheme", ["bearer", "basic"])
def test_good_credentials(site: Site, scheme: str) -> None:
    r = site.client("alice", scheme).get(site.base("shared") + "objects/")
    assert r.status_code == 200, r.text


# --------------------------------------------------------------------------- bad ones


def test_bad_credentials_all_answer_alike(site: Site) -> None:
    expired = site.cli(
        "token", "add", "alice", "--expires", "2020-01-01T00:00:00Z", "--json"
    ).json()
    revoked = site.cli("token", "add", "alice", "--json").json()
    assert site.cli("token", "revoke", str(revoked["token_id"])).code == 0
    disabled_token = site.tokens["bob"]
    assert read(site, f"Bearer {disabled_token}").status_code == 200
    assert read(site, basic("bob")).status_code == 200
    assert site.cli("user", "disable", "bob").code == 0

    cases = {
        "wrong password": basic("alice", PASSWORD + "x"),
        "unknown user": basic("nobody-at-all"),
        "unknown token": "Bearer tsq_" + "x" * 43,
        "expired token": f"Bearer {expired['token']}",
        "revoked token": f"Bearer {revoked['token']}",
        "disabled user's token": f"Bearer {disabled_token}",
        "disabled user's password": basic("bob"),
        "user without password": basic("amy"),
    }
    bodies = {}
    for label, auth in cases.items():
        for alias in ("shared", "pub"):  # bad credentials never fall back to anonymous
            bodies[(label, alias)] = assert_401(read(site, auth, alias))
    first = next(iter(bodies.values()))
    assert {k: v for k, v in bodies.items() if v != first} == {}
    # and the token of the disabled user works again once it is enabled
    assert site.cli("user", "enable", "bob").code == 0
    assert read(site, f"Bearer {disabled_token}").status_code == 200


def test_malformed_credentials_answer_like_wrong_ones(site: Site) -> None:
    wrong = assert_401(read(site, basic("alice", PASSWORD + "x")))
    cases = {
        "basic, not base64": "Basic !!!not-base64!!!",
        "basic without colon": "Basic " + base64.b64encode(b"alice").decode(),
        "basic, not utf-8": "Basic " + base64.b64encode(b"alice:\xff\xfe").decode(),
        "bearer without value": "Bearer",
        "basic without value": "Basic",
        "unknown scheme": "Digest username=alice",
        "no scheme": "tsq_abc",
    }
    got = {label: assert_401(read(site, auth)) for label, auth in cases.items()}
    assert {k: v for k, v in got.items() if v != wrong} == {}


def test_a_token_expires_at_its_time(site: Site) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=4)
    issued = site.cli("token", "add", "rita", "--expires", ts(soon), "--json")
    assert issued.code == 0, issued.err
    data = issued.json()
    assert parse(data["expires"]) == soon
    auth = f"Bearer {data['token']}"
    assert read(site, auth).status_code == 200
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.2)
    assert_401(read(site, auth))


# --------------------------------------------------------------------------- lockout


def _fail(site: Site, name: str, times: int) -> None:
    for _ in range(times):
        assert_401(read(site, basic(name, PASSWORD + "-wrong")))


def test_five_wrong_passwords_lock_the_name(site: Site) -> None:
    wrong = assert_401(read(site, basic("rita", PASSWORD + "x")))
    _fail(site, "rita", 4)
    _, locked_until = site.store.login_state("rita")
    assert locked_until is not None
    if datetime.now(UTC) > parse(locked_until) - timedelta(milliseconds=500):
        # a machine too busy to try within the one-second lock: let this one last longer
        site.store.set_login_lock("rita", ts(datetime.now(UTC) + timedelta(seconds=2)))
    # locked: even the right password is refused, exactly like a wrong one
    assert assert_401(read(site, basic("rita"))) == wrong
    # other names are not affected, nor rita's token
    assert read(site, basic("alice")).status_code == 200
    # the lock passes after about a second
    deadline = time.monotonic() + 5
    while read(site, basic("rita")).status_code != 200:
        assert time.monotonic() < deadline, "the lock did not pass"
        time.sleep(0.25)
    # a success starts the count again: four more failures do not lock
    _fail(site, "rita", 4)
    assert read(site, basic("rita")).status_code == 200


def test_four_wrong_passwords_do_not_lock(site: Site) -> None:
    _fail(site, "bob", 4)
    assert read(site, basic("bob")).status_code == 200


def test_a_success_resets_the_count_of_consecutive_failures(site: Site) -> None:
    """Five failures *in a row* lock: 4 wrong, right, 1 wrong is not five in a row, even
    when the right password was recently verified (and is remembered by the server)."""
    assert read(site, basic("alice")).status_code == 200
    _fail(site, "alice", 4)
    assert read(site, basic("alice")).status_code == 200
    _fail(site, "alice", 1)
    assert read(site, basic("alice")).status_code == 200


def test_the_lock_doubles_up_to_fifteen_minutes(site: Site) -> None:
    def lock_after_one_failure(seconds: float) -> None:
        """One more wrong password locks the name for ``seconds`` from the failure."""
        before = datetime.now(UTC)
        assert_401(read(site, basic("bob", "wrong password!")))
        after = datetime.now(UTC)
        _, locked_until = site.store.login_state("bob")
        assert locked_until is not None
        until = parse(locked_until)
        slack = timedelta(milliseconds=10)
        assert (
            before + timedelta(seconds=seconds) - slack
            <= until
            <= after + timedelta(seconds=seconds) + slack
        )

    def let_the_lock_pass() -> None:
        # as if the lock had run out (the real wait is exercised by the test above)
        site.store.set_login_lock("bob", ts(datetime.now(UTC) - timedelta(seconds=1)))

    _fail(site, "bob", 4)
    lock_after_one_failure(1)  # the 5th failure in a row
    let_the_lock_pass()
    lock_after_one_failure(2)
    let_the_lock_pass()
    lock_after_one_failure(4)
    let_the_lock_pass()
    lock_after_one_failure(8)
    # many failures later, the lock stays at 15 minutes
    now = ts(datetime.now(UTC))
    for _ in range(20):
        site.store.record_login_failure("bob", now, None)
    let_the_lock_pass()
    lock_after_one_failure(900)
    # while locked, even the right password is refused
    assert_401(read(site, basic("bob")))


# --------------------------------------------------------------------------- last use, secrecy


def test_last_use_is_recorded(site: Site) -> None:
    listed = site.cli("token", "list", "--user", "rita", "--json")
    assert listed.code == 0, listed.err
    (entry,) = listed.json()["tokens"]
    assert entry["last_used"] is None
    assert site.cli("token", "list", "--user", "rita").out.rstrip("\n").endswith("last used never")
    before = datetime.now(UTC)
    assert read(site, f"Bearer {site.tokens['rita']}").status_code == 200
    after = datetime.now(UTC)
    (entry,) = site.cli("token", "list", "--user", "rita", "--json").json()["tokens"]
    assert entry["last_used"] is not None
    assert before - timedelta(milliseconds=5) <= parse(entry["last_used"]) <= after


def test_token_values_never_appear_in_listings_logs_audit_or_database(
    site: Site, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    issued = site.cli("token", "add", "alice", "--label", "ci", "--json").json()
    plain = issued["token"]
    assert plain.startswith("tsq_")
    auth = f"Bearer {plain}"
    assert read(site, auth).status_code == 200
    assert (
        site.raw(auth)
        .post(site.base("shared") + "objects/", [malware(markings=[TLP_GREEN])])
        .status_code
        == 202
    )
    assert site.cli("token", "revoke", str(issued["token_id"])).code == 0
    assert_401(read(site, auth))
    secrets = [plain, *site.tokens.values()]

    for args in (
        ("token", "list"),
        ("token", "list", "--json"),
        ("audit", "show", "--json", "--limit", "100000"),
    ):
        done = site.cli(*args)
        assert done.code == 0, done.err
        for secret in secrets:
            assert secret not in done.out + done.err, args
    for record in caplog.records:
        for secret in secrets:
            assert secret not in record.getMessage()
    # the database (SQLite: the file and its write-ahead log; PostgreSQL: every row of
    # every table) holds hashes only
    raw = backend.stored_bytes(site.database)
    assert site.identity("Alpha CERT").encode() in raw  # what it holds can be seen
    for secret in secrets:
        assert secret.encode() not in raw


# --------------------------------------------------------------------------- the commands


def test_token_add_shows_the_token_once(site: Site) -> None:
    done = site.cli("token", "add", "alice")
    assert done.code == 0, done.err
    tid = newest_token_id(site)
    prefix = f"token {tid} for 'alice' (shown once, keep it safe): "
    assert done.out.startswith(prefix) and done.out.endswith("\n")
    plain = done.out[len(prefix) : -1]
    assert read(site, f"Bearer {plain}").status_code == 200
    as_json = site.cli("token", "add", "alice", "--json")
    data = as_json.json()
    assert set(data) == {"token_id", "user", "token", "expires"}
    assert (data["token_id"], data["user"], data["expires"]) == (tid + 1, "alice", None)
    assert as_json.out.count("\n") == 1


@pytest.mark.parametrize(
    "args,err",
    [
        (("token", "add", "nobody"), "error: unknown user 'nobody'\n"),
        (
            ("token", "add", "alice", "--expires", "tomorrow"),
            "error: --expires 'tomorrow' is not a timestamp like 2027-01-31T00:00:00Z\n",
        ),
        (("token", "revoke", "9999"), "error: unknown token 9999\n"),
        (("token", "list", "--user", "nobody"), "error: unknown user 'nobody'\n"),
        (("user", "disable", "nobody"), "error: unknown user 'nobody'\n"),
        (("user", "enable", "nobody"), "error: unknown user 'nobody'\n"),
        (("user", "role", "nobody", "reader"), "error: unknown user 'nobody'\n"),
        (("grant", "nosuch", "Beta Police"), "error: unknown collection 'nosuch'\n"),
        (("grant", "shared", "Nobody"), "error: unknown organisation 'Nobody'\n"),
        (
            ("grant", "shared", "Beta Police", "--no-read", "--no-write"),
            "error: give --read and/or --write (use 'tansiq revoke' to remove a grant)\n",
        ),
        (("revoke", "shared", "Nobody"), "error: unknown organisation 'Nobody'\n"),
        (("revoke", "nosuch", "Beta Police"), "error: unknown collection 'nosuch'\n"),
    ],
)
def test_command_errors(shared_site: Site, args: tuple[str, ...], err: str) -> None:
    done = shared_site.cli(*args)
    assert (done.code, done.out, done.err) == (1, "", err)


@pytest.mark.parametrize(
    "args", [("user", "role", "rita", "boss"), ("token", "revoke", "abc"), ("grant", "shared")]
)
def test_command_usage_errors(shared_site: Site, args: tuple[str, ...]) -> None:
    done = shared_site.cli(*args)
    assert done.code == 2, (done.out, done.err)
    assert done.out == ""
    assert "Traceback" not in done.err


def test_token_revoke(site: Site) -> None:
    tid = site.cli("token", "add", "rita", "--json").json()["token_id"]
    done = site.cli("token", "revoke", str(tid))
    assert (done.code, done.out, done.err) == (0, f"token {tid} revoked\n", "")
    again = site.cli("token", "revoke", str(tid), "--json")
    assert again.code == 0
    assert again.json() == {"token_id": tid, "revoked": True, "changed": False}
    listed = {t["id"]: t for t in site.cli("token", "list", "--json").json()["tokens"]}
    assert listed[tid]["revoked"] is True
    assert site.cli("token", "list").out.splitlines()[-1].endswith("\trevoked")


def test_token_list(site: Site) -> None:
    done = site.cli("token", "list", "--json")
    assert done.code == 0, done.err
    rows = done.json()["tokens"]
    assert [r["user"] for r in rows] == [name for name, *_ in SITE_USERS]
    for r in rows:
        assert set(r) == {"id", "user", "label", "created", "expires", "last_used", "revoked"}
        assert r["label"] == "initial" and r["revoked"] is False
    text = site.cli("token", "list", "--user", "bob").out
    (line,) = text.splitlines()
    fields = line.split("\t")
    assert fields[1:3] == ["bob", "initial"]
    assert fields[3].startswith("created ") and fields[4] == "last used never"


def test_user_disable_and_enable(site: Site) -> None:
    done = site.cli("user", "disable", "bob")
    assert (done.code, done.out, done.err) == (0, "user 'bob' disabled\n", "")
    assert_401(read(site, f"Bearer {site.tokens['bob']}"))
    assert_401(read(site, basic("bob")))
    listed = {u["name"]: u for u in site.cli("user", "list", "--json").json()["users"]}
    assert listed["bob"]["disabled"] is True
    done = site.cli("user", "enable", "bob", "--json")
    assert (done.code, done.json()) == (0, {"user": "bob", "disabled": False})
    assert read(site, f"Bearer {site.tokens['bob']}").status_code == 200
    assert read(site, basic("bob")).status_code == 200
    assert site.cli("user", "disable", "bob", "--json").json() == {"user": "bob", "disabled": True}
    assert site.cli("user", "enable", "bob").out == "user 'bob' enabled\n"


def test_user_role(site: Site) -> None:
    obj = malware(markings=[TLP_GREEN])
    rita = site.client("rita")
    assert rita.post(site.base("shared") + "objects/", [obj]).status_code == 403
    done = site.cli("user", "role", "rita", "analyst")
    assert (done.code, done.out, done.err) == (0, "user 'rita' is now analyst\n", "")
    r = rita.post(site.base("shared") + "objects/", [obj])
    assert r.status_code == 202 and r.json()["success_count"] == 1, r.text
    done = site.cli("user", "role", "rita", "reader", "--json")
    assert (done.code, done.json()) == (0, {"user": "rita", "role": "reader"})
    assert rita.post(site.base("shared") + "objects/", [malware()]).status_code == 403
    # admin: reads a collection it has no grant on
    gus = site.client("gus")
    assert gus.get(site.base("alpha") + "objects/").status_code == 404
    assert site.cli("user", "role", "gus", "admin").code == 0
    assert gus.get(site.base("alpha") + "objects/").status_code == 200


def test_grant_and_revoke(site: Site) -> None:
    coll = site.colls["shared"]
    gus = site.client("gus")
    objects = site.base("shared") + "objects/"
    assert gus.get(objects).status_code == 404

    done = site.cli("grant", "shared", "Gamma Customs")
    assert (done.code, done.out, done.err) == (
        0,
        "'Gamma Customs' on 'Site shared': read=yes, write=no\n",
        "",
    )
    assert gus.get(objects).status_code == 200
    assert gus.post(objects, [malware(markings=[TLP_GREEN])]).status_code == 403

    done = site.cli("grant", "shared", "Gamma Customs", "--no-read", "--write", "--json")
    assert done.code == 0, done.err
    assert done.json() == {
        "collection": coll.id,
        "org": "Gamma Customs",
        "read": False,
        "write": True,
    }
    assert gus.get(objects).status_code == 403
    assert gus.post(objects, [malware(markings=[TLP_GREEN])]).status_code == 202

    done = site.cli("revoke", "shared", "Gamma Customs")
    assert (done.code, done.out, done.err) == (
        0,
        "'Gamma Customs' no longer granted on 'Site shared'\n",
        "",
    )
    assert gus.get(objects).status_code == 404
    assert gus.post(objects, [malware(markings=[TLP_GREEN])]).status_code == 404
    again = site.cli("revoke", "shared", "Gamma Customs", "--json")
    assert again.json() == {
        "collection": coll.id,
        "org": "Gamma Customs",
        "read": False,
        "write": False,
    }
    grants = {
        json.dumps(e["detail"], sort_keys=True)
        for e in site.cli("audit", "show", "--json").json()["entries"]
        if e["action"].startswith("grant.")
    }
    assert len(grants) == 3
