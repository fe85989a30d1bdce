"""STIX 2.0 input is upgraded to valid STIX 2.1."""

from __future__ import annotations

import copy
import os

import pytest

from tansiq.errors import StixError
from tansiq.stix import check_bundle, check_object

from .oracles import CORPUS, load, stix2_ok, validator_ok

V20 = load(os.path.join(CORPUS, "stix20.json"))
OBJECTS = V20["objects"]


@pytest.mark.parametrize("obj", OBJECTS, ids=[o["type"] for o in OBJECTS])
def test_upgrade(obj: dict) -> None:
    before = copy.deepcopy(obj)
    out = check_object(obj)
    assert obj == before  # the input is not modified
    assert out is not obj
    assert out["spec_version"] == "2.1"
    assert out["id"] == obj["id"] and out["created"] == obj["created"]
    # the input is valid STIX 2.0 for both references ...
    if obj["type"] != "x-acme-thing":  # spec_version "2.0" on an object is a 2.1-ism
        assert validator_ok(obj, "2.0") is True
        assert stix2_ok(obj, "2.0")
    # ... and the output valid 2.1 (the observable container aside, see test_oracle_agreement)
    if "objects" not in out:
        assert validator_ok(out) is True
        assert stix2_ok(out)


def test_label_vocabularies_move_to_types() -> None:
    by_type = {o["type"]: check_object(o) for o in OBJECTS}
    assert by_type["indicator"]["indicator_types"] == ["malicious-activity"]
    assert by_type["indicator"]["pattern_type"] == "stix"
    assert "labels" not in by_type["indicator"]
    assert (
        by_type["malware"]["malware_types"] == ["remote-access-trojan"]
        and by_type["malware"]["is_family"] is True
    )
    assert by_type["report"]["report_types"] == ["threat-report"]
    assert by_type["threat-actor"]["threat_actor_types"] == ["crime-syndicate"]
    assert by_type["tool"]["tool_types"] == ["remote-access"]
    assert by_type["identity"] == dict(OBJECTS[5], spec_version="2.1")
    assert by_type["observed-data"]["objects"] == OBJECTS[6]["objects"]


def test_existing_21_properties_are_kept() -> None:
    obj = dict(OBJECTS[0], indicator_types=["benign"], pattern_type="stix")
    out = check_object(obj)
    assert out["indicator_types"] == ["benign"] and out["labels"] == ["malicious-activity"]


def test_bundle_of_20_objects() -> None:
    results = check_bundle(copy.deepcopy(V20))
    assert all(r.ok for r in results), [str(r.error) for r in results if r.error]
    assert all(r.obj and r.obj["spec_version"] == "2.1" for r in results)


def test_21_only_types_are_not_upgraded() -> None:
    note = {
        "type": "note",
        "id": "note--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
        "created": "2016-05-12T08:17:27.000Z",
        "modified": "2016-05-12T08:17:27.000Z",
        "content": "x",
        "object_refs": ["campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"],
    }
    with pytest.raises(StixError) as e:
        check_object(note)
    assert e.value.prop == "spec_version" and e.value.object_id == note["id"]


def test_upgraded_object_is_still_validated() -> None:
    bad = dict(OBJECTS[1])
    del bad["name"]
    bad["labels"] = ["x"]
    with pytest.raises(StixError) as e:
        check_object(bad)
    assert e.value.prop == "name"
