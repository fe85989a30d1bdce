"""Traffic Light Protocol markings.

TLP 2.0 is carried by the OASIS "TLP 2.0" marking-definition extension
(``extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d``), which fixes five
marking-definition objects and their ids. The four TLP 1.0 objects of STIX 2.1
§7.2.1.4 (white, green, amber, red) are still met in the wild; :func:`tlp_of` maps
them onto TLP 2.0 (WHITE -> CLEAR).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

__all__ = [
    "TLP1_AMBER",
    "TLP1_BY_ID",
    "TLP1_GREEN",
    "TLP1_OBJECTS",
    "TLP1_RED",
    "TLP1_WHITE",
    "TLP2_BY_ID",
    "TLP2_BY_NAME",
    "TLP2_EXTENSION_ID",
    "TLP2_OBJECTS",
    "TLP_AMBER",
    "TLP_AMBER_STRICT",
    "TLP_CLEAR",
    "TLP_GREEN",
    "TLP_ORDER",
    "TLP_RED",
    "tlp2_objects",
    "tlp_of",
]

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

TLP_CLEAR = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
TLP_AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
TLP_AMBER_STRICT = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
TLP_RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"

#: TLP 2.0 names from least to most restrictive.
TLP_ORDER: tuple[str, ...] = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")

TLP2_BY_ID: dict[str, str] = {
    TLP_CLEAR: "TLP:CLEAR",
    TLP_GREEN: "TLP:GREEN",
    TLP_AMBER: "TLP:AMBER",
    TLP_AMBER_STRICT: "TLP:AMBER+STRICT",
    TLP_RED: "TLP:RED",
}
TLP2_BY_NAME: dict[str, str] = {name: id_ for id_, name in TLP2_BY_ID.items()}

#: ``tlp_2_0`` value of the extension for each TLP 2.0 id.
TLP2_VALUE_BY_ID: dict[str, str] = {
    TLP_CLEAR: "clear",
    TLP_GREEN: "green",
    TLP_AMBER: "amber",
    TLP_AMBER_STRICT: "amber+strict",
    TLP_RED: "red",
}


def _tlp2(id_: str) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": id_,
        "created": "2022-10-01T00:00:00.000Z",
        "name": TLP2_BY_ID[id_],
        "extensions": {
            TLP2_EXTENSION_ID: {
                "extension_type": "property-extension",
                "tlp_2_0": TLP2_VALUE_BY_ID[id_],
            }
        },
    }


#: The five TLP 2.0 marking-definition objects, by id.
TLP2_OBJECTS: dict[str, dict[str, Any]] = {i: _tlp2(i) for i in TLP2_BY_ID}

TLP1_WHITE = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
TLP1_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
TLP1_AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
TLP1_RED = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"

#: TLP 1.0 (STIX 2.1 §7.2.1.4) id -> the TLP 2.0 name it is treated as.
TLP1_BY_ID: dict[str, str] = {
    TLP1_WHITE: "TLP:CLEAR",
    TLP1_GREEN: "TLP:GREEN",
    TLP1_AMBER: "TLP:AMBER",
    TLP1_RED: "TLP:RED",
}
_TLP1_COLOUR = {TLP1_WHITE: "white", TLP1_GREEN: "green", TLP1_AMBER: "amber", TLP1_RED: "red"}


def _tlp1(id_: str) -> dict[str, Any]:
    colour = _TLP1_COLOUR[id_]
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": id_,
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "name": f"TLP:{colour.upper()}",
        "definition": {"tlp": colour},
    }


#: The four TLP 1.0 marking-definition objects of STIX 2.1 §7.2.1.4, by id.
TLP1_OBJECTS: dict[str, dict[str, Any]] = {i: _tlp1(i) for i in _TLP1_COLOUR}

_RANK: dict[str, int] = {}
for _id, _name in TLP2_BY_ID.items():
    _RANK[_id] = TLP_ORDER.index(_name)
for _id, _name in TLP1_BY_ID.items():
    _RANK[_id] = TLP_ORDER.index(_name)


def tlp2_objects() -> list[dict[str, Any]]:
    """Fresh copies of the five TLP 2.0 marking definitions (safe to mutate)."""
    return [copy.deepcopy(o) for o in TLP2_OBJECTS.values()]


def tlp_of(markings: Iterable[str] | None) -> str | None:
    """Most restrictive TLP name (TLP 2.0 naming) among the given marking ids, or None.

    Order: CLEAR < GREEN < AMBER < AMBER+STRICT < RED; TLP 1.0 ids count as their
    TLP 2.0 equivalent. Ids that are not TLP markings are ignored.
    """
    best = -1
    for m in markings or ():
        r = _RANK.get(m, -1)
        if r > best:
            best = r
    return TLP_ORDER[best] if best >= 0 else None
