from __future__ import annotations

import pytest

from tansiq.stix import (
    TLP2_BY_ID,
    TLP2_BY_NAME,
    TLP2_OBJECTS,
    TLP_AMBER,
    TLP_AMBER_STRICT,
    TLP_CLEAR,
    TLP_GREEN,
    TLP_RED,
    check_object,
    tlp_of,
)
from tansiq.stix import markings as m

from .oracles import stix2_ok, validator_ok


def test_tlp2_ids_and_names() -> None:
    assert TLP_CLEAR == "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
    assert TLP_GREEN == "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
    assert TLP_AMBER == "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
    assert TLP_AMBER_STRICT == "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
    assert TLP_RED == "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
    assert TLP2_BY_ID[TLP_AMBER_STRICT] == "TLP:AMBER+STRICT"
    assert {TLP2_BY_NAME[n] for n in m.TLP_ORDER} == set(TLP2_BY_ID)


@pytest.mark.parametrize(
    "obj", list(TLP2_OBJECTS.values()) + list(m.TLP1_OBJECTS.values()), ids=lambda o: o["name"]
)
def test_marking_objects_are_valid(obj: dict) -> None:
    assert check_object(obj) == obj
    assert validator_ok(obj) is True
    assert stix2_ok(obj)


def test_tlp2_objects_fresh_copies() -> None:
    copies = m.tlp2_objects()
    copies[0]["name"] = "changed"
    assert TLP2_OBJECTS[TLP_CLEAR]["name"] == "TLP:CLEAR"


@pytest.mark.parametrize(
    "refs,expected",
    [
        ([], None),
        (None, None),
        (["marking-definition--4a0042fe-8b88-40fe-9600-dfa128ce6fbd"], None),
        ([TLP_CLEAR], "TLP:CLEAR"),
        ([TLP_GREEN, TLP_CLEAR], "TLP:GREEN"),
        ([TLP_AMBER, TLP_GREEN], "TLP:AMBER"),
        ([TLP_AMBER, TLP_AMBER_STRICT], "TLP:AMBER+STRICT"),
        ([TLP_RED, TLP_AMBER_STRICT, TLP_CLEAR], "TLP:RED"),
        ([m.TLP1_WHITE], "TLP:CLEAR"),
        ([m.TLP1_GREEN, "marking-definition--4a0042fe-8b88-40fe-9600-dfa128ce6fbd"], "TLP:GREEN"),
        ([m.TLP1_AMBER, TLP_GREEN], "TLP:AMBER"),
        ([m.TLP1_RED, TLP_AMBER_STRICT], "TLP:RED"),
        ([TLP_AMBER_STRICT, m.TLP1_AMBER], "TLP:AMBER+STRICT"),
    ],
)
def test_tlp_of(refs: list[str] | None, expected: str | None) -> None:
    assert tlp_of(refs) == expected
