"""Creator rules (STIX 2.1 section 3.6, DESIGN.md "Access semantics"): who may claim to
have created an object, and who may publish its next versions.

* an SDO/SRO written by a non-sync user gets created_by_ref = its organisation's
  identity when it has none;
* naming another *local* organisation is refused, object by object, with a failure in
  the TAXII status naming created_by_ref; the valid objects of the request are stored;
* outside identities are kept as they are;
* a new version keeps the created_by_ref of the versions the writer can see, else it is
  refused ("denied");
* sync accounts write their partners' objects as they are.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tansiq.storage.base import Query, StoredVersion, VersionFilter

from .conftest import Site
from .support import TLP_GREEN, TLP_RED, identity, ipv4, malware, stamp


def post(site: Site, user: str, alias: str, objects: list[Any]) -> dict[str, Any]:
    r = site.client(user).post(site.base(alias) + "objects/", objects)
    assert r.status_code == 202, r.text
    status: dict[str, Any] = r.json()
    assert status["status"] == "complete"
    assert status["total_count"] == len(objects)
    return status


def stored(site: Site, alias: str, oid: str) -> list[StoredVersion]:
    """Every stored version of ``oid`` (operator view), in date_added order."""
    page = site.store.query(
        Query(site.colls[alias].id, ids=(oid,), versions=VersionFilter(all=True, last=False))
    )
    return page.rows


def stored_json(site: Site, alias: str, oid: str) -> list[dict[str, Any]]:
    return [json.loads(r.json) for r in stored(site, alias, oid)]


def write_outcomes(site: Site, user: str, oid: str) -> dict[str, list[list[str]]]:
    """The outcomes recorded by the audit log for ``oid`` in the writes of ``user``."""
    found: dict[str, list[list[str]]] = {}
    found_user = site.store.get_user(user)
    assert found_user is not None
    for row in site.store.iter_audit(user_id=found_user.id):
        if row.action != "objects.write":
            continue
        for outcome, entries in json.loads(row.detail)["objects"].items():
            found.setdefault(outcome, []).extend(e for e in entries if e[0] == oid)
    return {k: v for k, v in found.items() if v}


def relationship(source: str, target: str, **extra: Any) -> dict[str, Any]:
    obj = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": f"relationship--{uuid.uuid4()}",
        "created": stamp(0),
        "modified": stamp(0),
        "relationship_type": "uses",
        "source_ref": source,
        "target_ref": target,
        "object_marking_refs": [TLP_GREEN],
    }
    obj.update(extra)
    return obj


# --------------------------------------------------------------------------- filling in


@pytest.mark.parametrize(
    "user,org",
    [
        ("alice", "Alpha CERT"),
        ("amy", "Alpha CERT"),
        ("root", "Alpha CERT"),
        ("bob", "Beta Police"),
    ],
)
def test_absent_creator_becomes_the_writer_organisation(
    shared_site: Site, user: str, org: str
) -> None:
    sdo = malware(markings=[TLP_GREEN])
    sro = relationship(sdo["id"], f"malware--{uuid.uuid4()}")
    status = post(shared_site, user, "shared", [sdo, sro])
    assert status["success_count"] == 2, status
    for obj in (sdo, sro):
        assert stored_json(shared_site, "shared", obj["id"]) == [
            {**obj, "created_by_ref": shared_site.identity(org)}
        ]
    got = shared_site.client(user).get(shared_site.base("shared") + f"objects/{sdo['id']}/")
    assert got.json()["objects"][0]["created_by_ref"] == shared_site.identity(org)


def test_scos_get_no_creator(shared_site: Site) -> None:
    sco = ipv4(f"203.0.113.{uuid.uuid4().int % 250 + 1}", markings=[TLP_GREEN])
    status = post(shared_site, "alice", "shared", [sco])
    assert status["success_count"] == 1
    assert stored_json(shared_site, "shared", sco["id"]) == [sco]


# --------------------------------------------------------------------------- posing as another


@pytest.mark.parametrize("user", ["alice", "amy", "root"])
def test_naming_another_local_organisation_is_refused_per_object(
    shared_site: Site, user: str
) -> None:
    ok1 = malware(markings=[TLP_GREEN])
    as_beta = malware(markings=[TLP_GREEN], created_by_ref=shared_site.identity("Beta Police"))
    as_gamma = relationship(
        ok1["id"], f"malware--{uuid.uuid4()}", created_by_ref=shared_site.identity("Gamma Customs")
    )
    ok2 = malware(markings=[TLP_GREEN], created_by_ref=shared_site.identity("Alpha CERT"))
    status = post(shared_site, user, "shared", [ok1, as_beta, as_gamma, ok2])
    assert (status["success_count"], status["failure_count"]) == (2, 2), status
    assert status["successes"] == [
        {"id": ok1["id"], "version": ok1["modified"]},
        {"id": ok2["id"], "version": ok2["modified"]},
    ]
    failures = status["failures"]
    assert [(f["id"], f["version"]) for f in failures] == [
        (as_beta["id"], as_beta["modified"]),
        (as_gamma["id"], as_gamma["modified"]),
    ]
    for f, name in zip(failures, ("Beta Police", "Gamma Customs"), strict=True):
        assert "created_by_ref" in f["message"], f
        assert f["id"] in f["message"], f
        assert name in f["message"], f
    assert stored(shared_site, "shared", as_beta["id"]) == []
    assert stored(shared_site, "shared", as_gamma["id"]) == []
    assert len(stored(shared_site, "shared", ok1["id"])) == 1
    assert stored_json(shared_site, "shared", ok2["id"]) == [ok2]


def test_outside_identities_are_kept_as_they_are(shared_site: Site) -> None:
    vendor = identity("MITRE-like vendor")
    obj = malware(markings=[TLP_GREEN], created_by_ref=vendor["id"])
    status = post(shared_site, "alice", "shared", [vendor, obj])
    assert status["success_count"] == 2
    assert stored_json(shared_site, "shared", obj["id"]) == [obj]
    # the identity object itself had no creator: it is the writer's organisation's
    assert stored_json(shared_site, "shared", vendor["id"])[0][
        "created_by_ref"
    ] == shared_site.identity("Alpha CERT")


# --------------------------------------------------------------------------- new versions


@pytest.mark.parametrize("second", ["alice", "amy", "root"])
def test_the_creating_organisation_publishes_new_versions(shared_site: Site, second: str) -> None:
    v1 = malware(markings=[TLP_GREEN])
    assert post(shared_site, "alice", "shared", [v1])["success_count"] == 1
    v2 = {**v1, "modified": stamp(60), "name": "dropper v2"}
    status = post(shared_site, second, "shared", [v2])
    assert status["successes"] == [{"id": v1["id"], "version": v2["modified"]}], status
    assert [o["name"] for o in stored_json(shared_site, "shared", v1["id"])] == [
        "dropper",
        "dropper v2",
    ]


def test_a_new_version_may_not_change_the_creator(shared_site: Site) -> None:
    v1 = malware(markings=[TLP_GREEN])
    post(shared_site, "alice", "shared", [v1])
    v2 = {**v1, "modified": stamp(60), "created_by_ref": identity()["id"]}
    status = post(shared_site, "alice", "shared", [v2])
    assert status["success_count"] == 0, status
    assert [(f["id"], f["version"]) for f in status["failures"]] == [(v1["id"], v2["modified"])]
    assert "created_by_ref" in status["failures"][0]["message"]
    assert len(stored(shared_site, "shared", v1["id"])) == 1
    assert write_outcomes(shared_site, "alice", v1["id"])["denied"] == [[v1["id"], v2["modified"]]]


def test_another_organisation_cannot_publish_versions_of_a_local_creator(shared_site: Site) -> None:
    v1 = malware(markings=[TLP_GREEN])
    post(shared_site, "alice", "shared", [v1])
    # without created_by_ref: it becomes Beta's, which differs from the first version's
    v2 = {**v1, "modified": stamp(60)}
    status = post(shared_site, "bob", "shared", [v2])
    assert status["success_count"] == 0, status
    assert "created_by_ref" in status["failures"][0]["message"]
    assert write_outcomes(shared_site, "bob", v1["id"]) == {"denied": [[v1["id"], v2["modified"]]]}
    # keeping Alpha's identity: posing as another local organisation
    v3 = {**v1, "modified": stamp(120), "created_by_ref": shared_site.identity("Alpha CERT")}
    status = post(shared_site, "bob", "shared", [v3])
    assert status["success_count"] == 0, status
    assert "created_by_ref" in status["failures"][0]["message"]
    assert [o["modified"] for o in stored_json(shared_site, "shared", v1["id"])] == [v1["modified"]]


def test_any_writer_adds_versions_of_an_outside_object_keeping_its_creator(
    shared_site: Site,
) -> None:
    vendor = identity()["id"]
    v1 = malware(markings=[TLP_GREEN], created_by_ref=vendor)
    post(shared_site, "alice", "shared", [v1])
    v2 = {**v1, "modified": stamp(60), "name": "renamed by Beta"}
    status = post(shared_site, "bob", "shared", [v2])
    assert status["successes"] == [{"id": v1["id"], "version": v2["modified"]}], status
    rows = stored(shared_site, "shared", v1["id"])
    assert [json.loads(r.json) for r in rows] == [v1, v2]
    bob = shared_site.store.get_user("bob")
    assert bob is not None
    assert rows[1].writer_user_id == bob.id  # provenance: who actually wrote it
    # dropping the creator (it would become Beta's) is a change of creator
    v3 = {k: v for k, v in v1.items() if k != "created_by_ref"} | {"modified": stamp(120)}
    status = post(shared_site, "bob", "shared", [v3])
    assert status["success_count"] == 0
    assert "created_by_ref" in status["failures"][0]["message"]


def test_versions_the_writer_cannot_see_do_not_bind_it(shared_site: Site) -> None:
    """Beta cannot see Alpha's TLP:RED first version: its own version is simply added
    (a refusal would reveal the hidden one), and the hidden version is left alone."""
    red = malware(markings=[TLP_RED])
    post(shared_site, "alice", "shared", [red])
    before = stored(shared_site, "shared", red["id"])
    mine = {**red, "modified": stamp(60), "object_marking_refs": [TLP_GREEN]}
    status = post(shared_site, "bob", "shared", [mine])
    assert status["successes"] == [{"id": red["id"], "version": mine["modified"]}], status
    rows = stored(shared_site, "shared", red["id"])
    assert rows[0] == before[0]
    assert json.loads(rows[1].json)["created_by_ref"] == shared_site.identity("Beta Police")
    # Beta sees only its own version
    got = shared_site.client("bob").get(
        shared_site.base("shared") + f"objects/{red['id']}/versions/"
    )
    assert got.json() == {"more": False, "versions": [mine["modified"]]}


# --------------------------------------------------------------------------- sync accounts


def test_sync_accounts_write_partners_objects_as_they_are(shared_site: Site) -> None:
    gamma = malware(markings=[TLP_GREEN], created_by_ref=shared_site.identity("Gamma Customs"))
    alpha = malware(markings=[TLP_GREEN], created_by_ref=shared_site.identity("Alpha CERT"))
    anonymous_author = malware(markings=[TLP_GREEN])
    status = post(shared_site, "bsync", "shared", [gamma, alpha, anonymous_author])
    assert status["success_count"] == 3, status
    for obj in (gamma, alpha, anonymous_author):
        assert stored_json(shared_site, "shared", obj["id"]) == [obj]
    # and a partner's next version of an Alpha object keeps Alpha as creator
    v2 = {**alpha, "modified": stamp(60)}
    assert post(shared_site, "bsync", "shared", [v2])["success_count"] == 1


# --------------------------------------------------------------------------- RED recipients


def test_red_recipients_must_be_users_of_this_instance(shared_site: Site) -> None:
    ok = malware(markings=[TLP_RED], x_tansiq_recipients=["bob"])
    unknown = malware(markings=[TLP_RED], x_tansiq_recipients=["bob", "nobody-here"])
    not_list = malware(markings=[TLP_RED], x_tansiq_recipients="bob")
    status = post(shared_site, "alice", "shared", [ok, unknown, not_list])
    assert status["successes"] == [{"id": ok["id"], "version": ok["modified"]}], status
    assert [f["id"] for f in status["failures"]] == [unknown["id"], not_list["id"]]
    for f in status["failures"]:
        assert "x_tansiq_recipients" in f["message"], f
    assert "nobody-here" in status["failures"][0]["message"]
    assert stored(shared_site, "shared", unknown["id"]) == []
    assert stored(shared_site, "shared", not_list["id"]) == []
    path = shared_site.base("shared") + f"objects/{ok['id']}/"
    assert shared_site.client("bob").get(path).status_code == 200
    assert shared_site.client("alice").get(path).status_code == 200  # the writer
    assert shared_site.client("rita").get(path).status_code == 404
    assert shared_site.client("root").get(path).status_code == 404  # admin, not named


# --------------------------------------------------------------------------- who may write


def test_readers_do_not_write(shared_site: Site) -> None:
    obj = malware(markings=[TLP_GREEN])
    r = shared_site.client("rita").post(shared_site.base("shared") + "objects/", [obj])
    assert r.status_code == 403, r.text
    r = shared_site.client("bea").post(shared_site.base("shared") + "objects/", [obj])
    assert r.status_code == 403, r.text
    assert stored(shared_site, "shared", obj["id"]) == []


def test_cli_import_applies_the_creator_rules(shared_site: Site, tmp_path: Path) -> None:
    ok = malware(markings=[TLP_GREEN])
    posing = malware(markings=[TLP_GREEN], created_by_ref=shared_site.identity("Beta Police"))
    path = tmp_path / "bundle.json"
    path.write_text(
        json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [ok, posing]})
    )
    done = shared_site.cli(
        "import", str(path), "--collection", "shared", "--user", "alice", "--json"
    )
    assert done.code == 1, done.err
    report = done.json()
    assert (report["total"], report["added"], report["invalid"]) == (2, 1, 1)
    assert [(f["index"], f["id"], f["outcome"]) for f in report["failures"]] == [
        (1, posing["id"], "invalid")
    ]
    assert "created_by_ref" in report["failures"][0]["message"]
    assert done.err.startswith("error: 1 of 2 objects rejected (valid ones were stored)")
    assert stored_json(shared_site, "shared", ok["id"]) == [
        {**ok, "created_by_ref": shared_site.identity("Alpha CERT")}
    ]
    assert stored(shared_site, "shared", posing["id"]) == []
