"""Validation and normalisation of single STIX objects at the MUST level of STIX 2.1.

:func:`check_object` takes one parsed JSON value and returns the STIX 2.1 object, or
raises :class:`~tansiq.errors.StixError` naming the object id, the property (a path
such as ``external_references[0].source_name`` when nested) and the reason of the
first MUST violation found.

Normalisation (the returned dict is a new dict only when something changed):

* STIX 2.0 objects are upgraded to 2.1 (see :mod:`tansiq.stix.upgrade`);
* an SCO without ``id`` gets its deterministic id (UUIDv5 from its ID Contributing
  Properties), or a UUIDv4 when it has none of them (§2.9).

What is checked: JSON object; ``type`` (valid name; not ``bundle``); ``id`` (form,
type prefix, RFC 4122 UUID); ``spec_version``; required properties of every 2.1
object type; the type of every spec-defined property (strings, booleans, integer
ranges, timestamps, non-empty lists and dictionaries, hashes, hex, binary, language
codes, CPE, enumerations that are closed); reference targets (``created_by_ref`` an
identity, ``object_marking_refs`` marking definitions, relationship ends SDO/SCO,
``sighting_of_ref`` an SDO, and every SCO reference property); timestamp orderings;
external references; kill chain phases; granular markings (structure and selectors);
extensions (extension-definition ids with a valid ``extension_type``, predefined SCO
extensions, custom ``-ext`` names); marking definitions (TLP 1.0 and TLP 2.0 fixed
objects, statements, no self-marking); STIX patterns of indicators; custom property
and custom type names; reserved property names; SCO deterministic ids.

Not checked (SHOULD level, or not decidable here): open vocabularies, ``x_``/``x-``
prefixes, domain/URL/e-mail value syntax, IANA registries (MIME types; character set
names are checked syntactically), relationship types per object pair.
"""

from __future__ import annotations

from typing import Any

from ..errors import StixError
from . import props as p
from .domain import DOMAIN_SPECS, set_known_pattern_props
from .ids import (
    ID_CONTRIBUTING,
    SCO_TYPES,
    STIX20_TYPES,
    deterministic_sco_id,
    id_type,
    is_valid_type_name,
    sco_id,
    uuid_version,
)
from .observables import OBSERVABLE_SPECS, known_properties
from .schema import CUSTOM_SCO, CUSTOM_SDO, TypeSpec
from .timestamps import compare_key
from .upgrade import upgrade_20
from .vocab import EXTENSION_TYPE

__all__ = ["SPECS", "check_object"]

SPECS: dict[str, TypeSpec] = {**DOMAIN_SPECS, **OBSERVABLE_SPECS}
set_known_pattern_props(known_properties())

_HANDLED = frozenset({"type", "id", "spec_version", "extensions"})
_EXTDEF_PREFIX = "extension-definition--"


def _fail(oid: str | None, prop: str | None, reason: str) -> StixError:
    return StixError(oid, prop or None, reason)


def check_object(obj: Any, *, strict_sco_ids: bool = True) -> dict[str, Any]:
    """Validate one STIX object at the MUST level and return it as STIX 2.1.

    ``strict_sco_ids``: a UUIDv5 SCO id must equal the deterministic id computed from
    the ID Contributing Properties (the default, for deduplication). §3.4 lets
    producers use other algorithms (e.g. OpenCTI derives file ids from hashes only);
    pass False to accept any well-formed id on SCOs that have contributing properties.
    """
    if type(obj) is not dict:
        raise StixError(None, None, "a STIX object must be a JSON object")
    raw_id = obj.get("id")
    oid = raw_id if type(raw_id) is str else None

    t = obj.get("type")
    if t is None:
        raise _fail(oid, "type", "required property is missing")
    if not is_valid_type_name(t):
        raise _fail(
            oid,
            "type",
            "must be 3-250 characters of a-z, 0-9 and '-', start with a letter, "
            "with no leading, trailing or double hyphen (§3.1, §11.2)",
        )
    if t == "bundle":
        raise _fail(oid, "type", "a bundle is a container, not a STIX object (§8)")

    spec = SPECS.get(t)
    if spec is None:
        spec = CUSTOM_SDO if "created" in obj else CUSTOM_SCO
    sco = spec.kind == "sco"

    # spec_version, and the STIX 2.0 upgrade
    sv = obj.get("spec_version")
    if sv != "2.1":
        if sv is None and "spec_version" not in obj:
            if not sco:
                if t in STIX20_TYPES or t not in SPECS:
                    obj = upgrade_20(obj)
                else:
                    raise _fail(oid, "spec_version", "required property is missing")
        elif sv == "2.0" and not sco and (t in STIX20_TYPES or t not in SPECS):
            obj = upgrade_20(obj)
        else:
            raise _fail(oid, "spec_version", 'must be "2.1"')

    # id
    if raw_id is None and "id" not in obj:
        if not sco:
            raise _fail(None, "id", "required property is missing")
    else:
        it = id_type(raw_id)
        if it is None:
            raise _fail(oid, "id", "must be an identifier <type>--<RFC 4122 UUID> (§2.9)")
        if it != t:
            raise _fail(
                oid, "id", f"the identifier prefix {it!r} must be the object type {t!r} (§2.9)"
            )

    # required properties
    missing = spec.required - obj.keys()
    if missing:
        missing.discard("id")  # only an SCO can get here without one
        if missing:
            raise _fail(oid, sorted(missing)[0], "required property is missing")

    # every property
    table = spec.props
    k = ""
    try:
        for k, v in obj.items():
            chk = table.get(k)
            if chk is not None:
                chk(v)
            elif k not in _HANDLED:
                p.custom_value(k, v)
    except p.Bad as e:
        raise _fail(oid, k + e.path, e.reason) from None

    if "defanged" in obj and not sco:
        raise _fail(oid, "defanged", "must only be used on SCOs (§3.2)")

    try:
        if "extensions" in obj:
            _check_extensions(obj["extensions"], spec)
        for later, earlier, strict in spec.order:
            if later in obj and earlier in obj:
                a = compare_key(obj[later])
                b = compare_key(obj[earlier])
                if a < b or (strict and a == b):
                    relation = "later than" if strict else "later than or equal to"
                    raise p.Bad(f"must be {relation} {earlier}", later)
        if spec.extra is not None:
            spec.extra(obj)
        if "granular_markings" in obj:
            p.check_selectors(obj)
    except p.Bad as e:
        raise _fail(oid, e.path, e.reason) from None

    if sco:
        obj = _check_sco_id(obj, oid, t, strict_sco_ids)
    return obj


def _check_extensions(ext: Any, spec: TypeSpec) -> None:
    if type(ext) is not dict or not ext:
        raise p.Bad("must be a non-empty dictionary of extensions (§3.2)", "extensions")
    for name, body in ext.items():
        path = f"extensions.{name}"
        if type(body) is not dict or not body:
            raise p.Bad("an extension must be a non-empty object (§3.2)", path)
        etype = body.get("extension_type")
        if etype is not None and etype not in EXTENSION_TYPE:
            raise p.Bad(
                "must be a value of the extension-type-enum enumeration (§10.5)",
                path + ".extension_type",
            )
        if name.startswith(_EXTDEF_PREFIX):
            if id_type(name) != "extension-definition":
                raise p.Bad(
                    "extension keys must be extension-definition identifiers or '-ext' names", path
                )
            if etype is None:
                raise p.Bad("required property is missing (§3.2, §7.3)", path + ".extension_type")
            objspec = None
        else:
            objspec = spec.extensions.get(name)
            if objspec is None and (
                not name.endswith("-ext") or len(name) > 250 or not is_valid_type_name(name)
            ):
                raise p.Bad(
                    "extension keys must be extension-definition identifiers or names ending in '-ext' "
                    "made of a-z, 0-9 and '-' (§3.2, §11.3)",
                    path,
                )
        if objspec is not None:
            try:
                objspec({k: v for k, v in body.items() if k != "extension_type"})
            except p.Bad as e:
                raise p.Bad(e.reason, path + e.path) from None
        else:
            for k, v in body.items():
                # "id" inside an extension: accepted as by stix2-validator; OpenCTI's
                # property extension carries one (§7.3.2.1 asks for 3+ characters).
                if k != "extension_type" and k != "id":
                    try:
                        p.custom_value(k, v)
                    except p.Bad as e:
                        raise p.Bad(e.reason, f"{path}.{k}{e.path}") from None


def _check_sco_id(obj: dict[str, Any], oid: str | None, t: str, strict: bool) -> dict[str, Any]:
    if oid is None:
        obj = dict(obj)
        obj["id"] = sco_id(obj)
        return obj
    version = uuid_version(oid)
    if (
        not strict
        and version != 4
        and (t not in SCO_TYPES or any(k in obj for k in ID_CONTRIBUTING[t]))
    ):
        return obj
    det = deterministic_sco_id(obj)
    if det is None:
        if t in SCO_TYPES and version != 4:
            raise _fail(
                oid,
                "id",
                "an SCO without any ID Contributing Property must use a UUIDv4 (§2.9)",
            )
    elif version == 5 and oid.lower() != det:
        raise _fail(
            oid,
            "id",
            f"UUIDv5 id does not match the deterministic id {det} computed from the "
            "ID Contributing Properties (§2.9, §3.4)",
        )
    return obj
