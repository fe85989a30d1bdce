from __future__ import annotations

import copy

import pytest

from tansiq.errors import StixError
from tansiq.stix import CheckResult, check_bundle, sco_id

from .oracles import EXAMPLES, load

IND = {
    "type": "indicator",
    "spec_version": "2.1",
    "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "created": "2016-04-06T20:03:48.000Z",
    "modified": "2016-04-06T20:03:48.000Z",
    "pattern": "[ipv4-addr:value = '10.0.0.1']",
    "pattern_type": "stix",
    "valid_from": "2016-01-01T00:00:00Z",
}
BAD = dict(IND, id="indicator--44af6c39-c09b-49c5-9de2-394224b04982", pattern="[ipv4-addr:value = ")
SCO = {"type": "ipv4-addr", "value": "10.0.0.1"}


def _check(results: list[CheckResult]) -> None:
    assert [r.index for r in results] == list(range(len(results)))


def test_bundle_keeps_valid_objects_next_to_invalid_ones() -> None:
    data = {
        "type": "bundle",
        "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982",
        "objects": [IND, BAD, SCO, 7],
    }
    results = check_bundle(copy.deepcopy(data))
    _check(results)
    ok, bad, sco, seven = results
    assert ok.ok and ok.obj == IND and ok.object_id == IND["id"] and ok.version == IND["modified"]
    assert not bad.ok and bad.obj is None and bad.object_id == BAD["id"] and bad.version is None
    assert isinstance(bad.error, StixError) and bad.error.prop == "pattern"
    assert sco.ok and sco.obj is not None
    assert sco.object_id == sco_id(SCO) == sco.obj["id"] and sco.version is None
    assert (
        not seven.ok
        and seven.object_id is None
        and seven.error is not None
        and seven.error.object_id is None
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"objects": [IND, SCO]},
        [IND, SCO],
        {
            "type": "bundle",
            "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982",
            "spec_version": "2.1",
            "objects": [IND, SCO],
        },
    ],
    ids=["envelope", "list", "bundle-with-spec-version"],
)
def test_payload_shapes(payload: object) -> None:
    results = check_bundle(copy.deepcopy(payload))
    assert [r.ok for r in results] == [True, True]


def test_single_object_and_empty_payloads() -> None:
    assert [r.object_id for r in check_bundle(copy.deepcopy(IND))] == [IND["id"]]
    assert (
        check_bundle({"type": "bundle", "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982"}) == []
    )
    assert check_bundle({"objects": []}) == []
    assert check_bundle([]) == []
    # a dict that is neither bundle, envelope nor object: one failing result
    (r,) = check_bundle({"foo": 1})
    assert not r.ok and r.error is not None and r.error.prop == "type"


@pytest.mark.parametrize("payload", ["bundle", 12, None, 1.5, True])
def test_not_a_payload(payload: object) -> None:
    with pytest.raises(StixError) as e:
        check_bundle(payload)
    assert e.value.object_id is None and e.value.prop is None


def test_objects_not_a_list() -> None:
    with pytest.raises(StixError) as e:
        check_bundle(
            {
                "type": "bundle",
                "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982",
                "objects": {"a": IND},
            }
        )
    assert e.value.prop == "objects"


def test_examples_round_trip() -> None:
    for path in EXAMPLES:
        data = load(path)
        before = copy.deepcopy(data)
        results = check_bundle(data)
        assert data == before  # inputs are not modified
        assert all(r.obj == o for r, o in zip(results, data.get("objects", [data]), strict=True))
