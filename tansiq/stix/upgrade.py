"""STIX 2.0 -> 2.1 upgrade of single objects.

STIX 2.0 objects carry no ``spec_version`` (the 2.0 bundle did). An object of a type
that existed in 2.0 (or a custom type) with ``created`` but without ``spec_version``,
or with ``spec_version: "2.0"``, is read as STIX 2.0 and upgraded:

* ``spec_version`` becomes ``"2.1"``;
* the 2.0 ``labels`` that were the required type vocabulary move to the 2.1 property
  that replaces them (``indicator_types``, ``malware_types``, ``report_types``,
  ``threat_actor_types``, ``tool_types``) when that property is absent, because 2.1
  forbids ``labels`` for that purpose (§3.2);
* indicators get ``pattern_type: "stix"`` (2.0 patterns were always STIX patterns;
  the 2.0 pattern grammar is a subset of 2.1's, so the pattern is kept as is);
* malware gets ``is_family: true`` (a 2.0 Malware described a family or a variant;
  ``true`` is the reading used by the OASIS stix2-elevator);
* observed-data keeps its 2.0 ``objects`` container, which 2.1 still allows (deprecated).

Everything else is kept as it is; the result is then validated as 2.1.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LABEL_PROPERTIES", "upgrade_20"]

#: 2.0 types whose required ``labels`` became a ``*_types`` property in 2.1.
LABEL_PROPERTIES = {
    "indicator": "indicator_types",
    "malware": "malware_types",
    "report": "report_types",
    "threat-actor": "threat_actor_types",
    "tool": "tool_types",
}


def upgrade_20(obj: dict[str, Any]) -> dict[str, Any]:
    """Return an upgraded copy of a STIX 2.0 object (the input is not modified)."""
    out = dict(obj)
    out["spec_version"] = "2.1"
    t = out.get("type")
    prop = LABEL_PROPERTIES.get(t) if isinstance(t, str) else None
    if prop is not None and prop not in out and "labels" in out:
        out[prop] = out.pop("labels")
    if t == "indicator":
        out.setdefault("pattern_type", "stix")
    elif t == "malware":
        out.setdefault("is_family", True)
    return out
