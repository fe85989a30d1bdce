"""The two reference implementations used as oracles, and the test corpus loader."""

from __future__ import annotations

import copy
import glob
import json
import os
import warnings
from typing import Any

import stix2
from stix2validator import ValidationOptions, validate_instance

CORPUS = os.path.join(os.path.dirname(__file__), "corpus")
SHARED_DATA = "/work/shared/data"
EXAMPLES = sorted(glob.glob(os.path.join(SHARED_DATA, "stix21-examples", "*.json")))
ICS_ATTACK = os.path.join(SHARED_DATA, "ics-attack-18.1.json")

# MUST level only: every SHOULD check is disabled, and warnings never make is_valid False.
_OPTS = {
    v: ValidationOptions(version=v, strict=False, silent=True, disabled="all")
    for v in ("2.0", "2.1")
}


def validator_ok(obj: Any, version: str = "2.1") -> bool | None:
    """stix2-validator's MUST-level verdict; None when the validator itself crashes."""
    try:
        return bool(validate_instance(copy.deepcopy(obj), _OPTS[version]).is_valid)
    except Exception:  # the validator raises on some inputs (e.g. observable containers)
        return None


def stix2_ok(obj: Any, version: str = "2.1") -> bool:
    """Whether ``stix2.parse(obj, allow_custom=True)`` accepts the object."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation notices (observable containers)
            stix2.parse(copy.deepcopy(obj), allow_custom=True, version=version)
    except Exception:
        return False
    return True


def load(path: str) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def corpus_objects() -> list[tuple[str, dict[str, Any]]]:
    """``(name, object)`` for every object of the valid corpus files."""
    out = []
    for path in sorted(glob.glob(os.path.join(CORPUS, "valid", "*.json"))):
        base = os.path.basename(path)[:-5]
        for i, obj in enumerate(load(path)["objects"]):
            out.append((f"{base}[{i}]:{obj['type']}", obj))
    return out
