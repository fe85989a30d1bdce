"""Property tables of the SDOs (§4), SROs (§5) and meta objects (§7)."""

from __future__ import annotations

import re
from typing import Any

from . import markings, vocab
from . import props as p
from .ids import SCO_TYPES, SPEC_TYPES, id_type, is_valid_type_name
from .patterns import pattern_info
from .schema import TypeSpec, spec

__all__ = ["DOMAIN_SPECS"]

S = p.string
SL = p.string_list
TS = p.timestamp
KCP = p.kill_chain_phases
ANY_REFS = p.refs(p.ANY_OBJECT, "a STIX object")
SOFTWARE = ("software",)

LAST_AFTER_FIRST = ("last_seen", "first_seen", False)


# -- constraints involving several properties ------------------------------------------------


def _location(o: dict[str, Any]) -> None:
    has_lat = "latitude" in o
    has_lon = "longitude" in o
    if has_lat != has_lon:
        raise p.Bad(
            "latitude and longitude must be given together (§4.10)",
            "longitude" if has_lat else "latitude",
        )
    if "precision" in o and not has_lat:
        raise p.Bad("precision needs latitude and longitude (§4.10)", "precision")
    if not has_lat and "region" not in o and "country" not in o:
        raise p.Bad("a location needs region, country, or latitude and longitude (§4.10)")


def _malware(o: dict[str, Any]) -> None:
    if o.get("is_family") is True and "name" not in o:
        raise p.Bad("a malware family must have a name (§4.11)", "name")


def _malware_analysis(o: dict[str, Any]) -> None:
    if "result" not in o and "analysis_sco_refs" not in o:
        raise p.Bad("one of result or analysis_sco_refs must be present (§4.12)")


_PROPERTY_RE = re.compile(r"[a-z0-9_]{3,250}")
_KNOWN_PATTERN_PROPS: dict[str, frozenset[str]] = {}


def set_known_pattern_props(table: dict[str, frozenset[str]]) -> None:
    """Properties of the SCO types, which may appear in patterns whatever their name."""
    _KNOWN_PATTERN_PROPS.update(table)


def _indicator(o: dict[str, Any]) -> None:
    if o.get("pattern_type") != "stix":
        return
    pattern = o["pattern"]
    if type(pattern) is not str:
        return
    info = pattern_info(pattern, "2.0" if o.get("pattern_version") == "2.0" else "2.1")
    if info.error is not None:
        raise p.Bad(info.error, "pattern")
    for type_, prop in info.paths:
        if not is_valid_type_name(type_):
            raise p.Bad(
                f"invalid STIX pattern: {type_!r} is not a valid object type name", "pattern"
            )
        known = _KNOWN_PATTERN_PROPS.get(type_)
        if (known is None or prop not in known) and p.PROPERTY_NAME_RE.fullmatch(prop) is None:
            raise p.Bad(f"invalid STIX pattern: {prop!r} is not a valid property name", "pattern")


def _container(objects: Any) -> None:
    """The deprecated observable container of observed-data (§2.13)."""
    if type(objects) is not dict or not objects:
        raise p.Bad("must be a non-empty dictionary of cyber-observable objects (§2.13)")
    for key, o in objects.items():
        if type(o) is not dict:
            raise p.Bad("a container entry must be a cyber-observable object", f".{key}")
        if not is_valid_type_name(o.get("type")):
            raise p.Bad("a container entry needs a valid type", f".{key}.type")
        for k, v in o.items():
            if k.endswith("_ref"):
                targets = [v]
            elif k.endswith("_refs") and type(v) is list:
                targets = v
            else:
                continue
            for t in targets:
                if type(t) is not str or t not in objects:
                    raise p.Bad(
                        "references in an observable container must resolve within the container (§2.13)",
                        f".{key}.{k}",
                    )


def _observed_data(o: dict[str, Any]) -> None:
    if ("objects" in o) == ("object_refs" in o):
        raise p.Bad("exactly one of objects and object_refs must be present (§4.14)", "object_refs")
    refs = o.get("object_refs")
    if refs is not None and not any(
        (t := id_type(r)) is not None and (t in SCO_TYPES or t not in SPEC_TYPES) for r in refs
    ):
        raise p.Bad("object_refs must contain at least one SCO reference (§4.14)", "object_refs")


_RELATIONSHIP_TYPE_RE = re.compile(r"[a-z0-9-]+")


def _relationship_type(v: Any) -> None:
    if type(v) is not str or _RELATIONSHIP_TYPE_RE.fullmatch(v) is None:
        raise p.Bad("must contain only a-z, 0-9 and '-' (§5.1.2)")


def _contents(v: Any) -> None:
    if type(v) is not dict or not v:
        raise p.Bad("must be a non-empty dictionary keyed by RFC 5646 language codes (§7.1.1)")
    for code, tr in v.items():
        if not vocab.is_language_tag(code):
            raise p.Bad("keys must be RFC 5646 language codes (§7.1.1)", f".{code}")
        if type(tr) is not dict or not tr:
            raise p.Bad("must be a non-empty dictionary of translated properties", f".{code}")
        for k, x in tr.items():
            if _PROPERTY_RE.fullmatch(k) is None:
                raise p.Bad("keys must be property names (§7.1.1)", f".{code}.{k}")
            if x is None:
                raise p.Bad("null is not a STIX value", f".{code}.{k}")


def _no_self_marking(o: dict[str, Any]) -> None:
    me = o.get("id")
    if me in (o.get("object_marking_refs") or ()):
        raise p.Bad("a marking definition must not mark itself (§3.2)", "object_marking_refs")
    for i, gm in enumerate(o.get("granular_markings") or ()):
        if gm.get("marking_ref") == me:
            raise p.Bad(
                "a marking definition must not mark itself (§3.2)",
                f"granular_markings[{i}].marking_ref",
            )


def _marking_definition(o: dict[str, Any]) -> None:
    _no_self_marking(o)
    ext = o.get("extensions")
    if ext is None and ("definition_type" not in o or "definition" not in o):
        raise p.Bad(
            "definition_type and definition are required when extensions is absent (§7.2.1)",
            "definition" if "definition_type" in o else "definition_type",
        )
    dtype = o.get("definition_type")
    definition = o.get("definition")
    if "definition" in o and type(definition) is not dict:
        raise p.Bad("must be a marking object", "definition")
    if dtype == "tlp":
        std = markings.TLP1_OBJECTS.get(o["id"])
        if (
            std is None
            or definition != std["definition"]
            or o.get("created") != std["created"]
            or ("name" in o and o["name"] != std["name"])
        ):
            raise p.Bad(
                "only the four standard TLP marking definitions may have definition_type tlp (§7.2.1.4)",
                "definition",
            )
    elif dtype == "statement" and (
        definition is None or type(definition.get("statement")) is not str
    ):
        raise p.Bad(
            "a statement marking needs a string statement (§7.2.1.3)", "definition.statement"
        )
    if type(ext) is dict and markings.TLP2_EXTENSION_ID in ext:
        tlp2 = ext[markings.TLP2_EXTENSION_ID]
        value = tlp2.get("tlp_2_0") if type(tlp2) is dict else None
        if markings.TLP2_VALUE_BY_ID.get(o["id"]) != value:
            raise p.Bad(
                "a TLP 2.0 marking must be one of the five fixed TLP 2.0 marking definitions",
                f"extensions.{markings.TLP2_EXTENSION_ID}.tlp_2_0",
            )


def _extension_definition(o: dict[str, Any]) -> None:
    if "extension_properties" in o and "toplevel-property-extension" not in o["extension_types"]:
        raise p.Bad(
            "extension_properties is only allowed with a toplevel-property-extension (§7.3.1)",
            "extension_properties",
        )


# -- the tables -------------------------------------------------------------------------------

_SPECS = [
    spec(
        "attack-pattern",
        "sdo",
        {"name": S, "description": S, "aliases": SL, "kill_chain_phases": KCP},
        ("name",),
    ),
    spec(
        "campaign",
        "sdo",
        {
            "name": S,
            "description": S,
            "aliases": SL,
            "first_seen": TS,
            "last_seen": TS,
            "objective": S,
        },
        ("name",),
        (LAST_AFTER_FIRST,),
    ),
    spec("course-of-action", "sdo", {"name": S, "description": S}, ("name",)),
    # Grouping "name" is optional in the STIX 2.1 OASIS Standard (the errata text marks it
    # required without listing the change); we follow the Standard, as do both references.
    spec(
        "grouping",
        "sdo",
        {"name": S, "description": S, "context": S, "object_refs": ANY_REFS},
        ("context", "object_refs"),
    ),
    spec(
        "identity",
        "sdo",
        {
            "name": S,
            "description": S,
            "roles": SL,
            "identity_class": S,
            "sectors": SL,
            "contact_information": S,
        },
        ("name",),
    ),
    spec("incident", "sdo", {"name": S, "description": S}, ("name",)),
    spec(
        "indicator",
        "sdo",
        {
            "name": S,
            "description": S,
            "indicator_types": SL,
            "pattern": S,
            "pattern_type": S,
            "pattern_version": S,
            "valid_from": TS,
            "valid_until": TS,
            "kill_chain_phases": KCP,
        },
        ("pattern", "pattern_type", "valid_from"),
        (("valid_until", "valid_from", True),),
        _indicator,
    ),
    spec(
        "infrastructure",
        "sdo",
        {
            "name": S,
            "description": S,
            "infrastructure_types": SL,
            "aliases": SL,
            "kill_chain_phases": KCP,
            "first_seen": TS,
            "last_seen": TS,
        },
        ("name",),
        (LAST_AFTER_FIRST,),
    ),
    spec(
        "intrusion-set",
        "sdo",
        {
            "name": S,
            "description": S,
            "aliases": SL,
            "first_seen": TS,
            "last_seen": TS,
            "goals": SL,
            "resource_level": S,
            "primary_motivation": S,
            "secondary_motivations": SL,
        },
        ("name",),
        (LAST_AFTER_FIRST,),
    ),
    spec(
        "location",
        "sdo",
        {
            "name": S,
            "description": S,
            "latitude": p.number(-90.0, 90.0),
            "longitude": p.number(-180.0, 180.0),
            "precision": p.number(),
            "region": S,
            "country": S,
            "administrative_area": S,
            "city": S,
            "street_address": S,
            "postal_code": S,
        },
        extra=_location,
    ),
    # is_family is required in the STIX 2.1 OASIS Standard (the errata text says optional
    # without listing the change); we follow the Standard, as do both references.
    spec(
        "malware",
        "sdo",
        {
            "name": S,
            "description": S,
            "malware_types": SL,
            "is_family": p.boolean,
            "aliases": SL,
            "kill_chain_phases": KCP,
            "first_seen": TS,
            "last_seen": TS,
            "operating_system_refs": p.refs(SOFTWARE, "a software SCO"),
            "architecture_execution_envs": SL,
            "implementation_languages": SL,
            "capabilities": SL,
            "sample_refs": p.refs(("file", "artifact"), "a file or artifact SCO"),
        },
        ("is_family",),
        (LAST_AFTER_FIRST,),
        _malware,
    ),
    spec(
        "malware-analysis",
        "sdo",
        {
            "product": S,
            "version": S,
            "host_vm_ref": p.ref(SOFTWARE, "a software SCO"),
            "operating_system_ref": p.ref(SOFTWARE, "a software SCO"),
            "installed_software_refs": p.refs(SOFTWARE, "a software SCO"),
            "configuration_version": S,
            "modules": SL,
            "analysis_engine_version": S,
            "analysis_definition_version": S,
            "submitted": TS,
            "analysis_started": TS,
            "analysis_ended": TS,
            "result_name": S,
            "result": S,
            "analysis_sco_refs": p.refs(p.SCO_ONLY, "an SCO"),
            "sample_ref": p.ref(
                ("file", "network-traffic", "artifact"), "a file, network-traffic or artifact SCO"
            ),
        },
        ("product",),
        extra=_malware_analysis,
    ),
    spec(
        "note",
        "sdo",
        {"abstract": S, "content": S, "authors": SL, "object_refs": ANY_REFS},
        ("content", "object_refs"),
    ),
    spec(
        "observed-data",
        "sdo",
        {
            "first_observed": TS,
            "last_observed": TS,
            "number_observed": p.integer(1, 999_999_999),
            "objects": _container,
            "object_refs": p.refs(p.SCO_OR_SRO, "an SCO or SRO"),
        },
        ("first_observed", "last_observed", "number_observed"),
        (("last_observed", "first_observed", False),),
        _observed_data,
    ),
    spec(
        "opinion",
        "sdo",
        {
            "explanation": S,
            "authors": SL,
            "opinion": p.enum(vocab.OPINION, "opinion-enum"),
            "object_refs": ANY_REFS,
        },
        ("opinion", "object_refs"),
    ),
    spec(
        "report",
        "sdo",
        {"name": S, "description": S, "report_types": SL, "published": TS, "object_refs": ANY_REFS},
        ("name", "published", "object_refs"),
    ),
    spec(
        "threat-actor",
        "sdo",
        {
            "name": S,
            "description": S,
            "threat_actor_types": SL,
            "aliases": SL,
            "first_seen": TS,
            "last_seen": TS,
            "roles": SL,
            "goals": SL,
            "sophistication": S,
            "resource_level": S,
            "primary_motivation": S,
            "secondary_motivations": SL,
            "personal_motivations": SL,
        },
        ("name",),
        (LAST_AFTER_FIRST,),
    ),
    spec(
        "tool",
        "sdo",
        {
            "name": S,
            "description": S,
            "tool_types": SL,
            "aliases": SL,
            "kill_chain_phases": KCP,
            "tool_version": S,
        },
        ("name",),
    ),
    spec("vulnerability", "sdo", {"name": S, "description": S}, ("name",)),
    spec(
        "relationship",
        "sro",
        {
            "relationship_type": _relationship_type,
            "description": S,
            "source_ref": p.ref(p.SDO_OR_SCO, "an SDO or SCO"),
            "target_ref": p.ref(p.SDO_OR_SCO, "an SDO or SCO"),
            "start_time": TS,
            "stop_time": TS,
        },
        ("relationship_type", "source_ref", "target_ref"),
        (("stop_time", "start_time", True),),
    ),
    spec(
        "sighting",
        "sro",
        {
            "description": S,
            "first_seen": TS,
            "last_seen": TS,
            "count": p.integer(0, 999_999_999),
            "sighting_of_ref": p.ref(p.SDO_ONLY, "an SDO"),
            "observed_data_refs": p.refs(("observed-data",), "an observed-data"),
            "where_sighted_refs": p.refs(("identity", "location"), "an identity or location"),
            "summary": p.boolean,
        },
        ("sighting_of_ref",),
        (LAST_AFTER_FIRST,),
    ),
    spec(
        "language-content",
        "meta",
        {
            "object_ref": p.ref(p.ANY_OBJECT, "a STIX object"),
            "object_modified": TS,
            "contents": _contents,
        },
        ("object_ref", "contents"),
    ),
    spec(
        "marking-definition",
        "meta",
        {"name": S, "definition_type": S, "definition": p.dictionary},
        extra=_marking_definition,
        base_required=frozenset({"type", "spec_version", "id", "created"}),
    ),
    spec(
        "extension-definition",
        "meta",
        {
            "name": S,
            "description": S,
            "schema": S,
            "version": S,
            "extension_types": p.list_of(p.enum(vocab.EXTENSION_TYPE, "extension-type-enum")),
            "extension_properties": SL,
        },
        ("created_by_ref", "name", "schema", "version", "extension_types"),
        extra=_extension_definition,
    ),
]

DOMAIN_SPECS: dict[str, TypeSpec] = {s.type: s for s in _SPECS}
