"""Checkers for STIX 2.1 property values (§2 data types, §3 common types, §7.2.3).

A checker is a callable taking the JSON value and returning nothing; it raises
:class:`Bad` with the reason (and, for nested values, the path below the property)
on the first MUST violation. Checkers never modify values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from . import vocab
from .ids import META_TYPES, SCO_TYPES, SPEC_TYPES, SRO_TYPES, id_type
from .timestamps import _split

__all__ = ["Bad", "Checker"]

Checker = Callable[[Any], None]

MAX_INT = 2**53 - 1

_DICT_KEY_RE = re.compile(r"[a-zA-Z0-9_-]{1,250}")
_HASH_KEY_RE = re.compile(r"[a-zA-Z0-9_-]{3,250}")
#: §3.1 + §11.1: lowercase ASCII, digits and '_', starting with a letter, 3-250 chars.
PROPERTY_NAME_RE = re.compile(r"[a-z][a-z0-9_]{2,249}")
_HEX_RE = re.compile(r"(?:[0-9a-fA-F]{2})+")
_BIN_RE = re.compile(
    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)"
)

#: Reserved property names (§3.8) that MUST NOT appear in STIX content.
RESERVED_PROPERTIES = frozenset({"severity", "username", "phone_number", "action"})


class Bad(Exception):
    """A MUST violation inside one property value."""

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


# -- scalars ------------------------------------------------------------------------------


def string(v: Any) -> None:
    if type(v) is not str:
        raise Bad("must be a string")


def boolean(v: Any) -> None:
    if v is not True and v is not False:
        raise Bad("must be a boolean (true or false)")


def integer(lo: int = -MAX_INT, hi: int = MAX_INT) -> Checker:
    def check(v: Any) -> None:
        # JSON has one number type: 5.0 is the integer 5 (both references agree).
        if type(v) is not int and not (type(v) is float and v.is_integer()):
            raise Bad("must be an integer")
        if not lo <= v <= hi:
            raise Bad(f"must be an integer between {lo} and {hi}")

    return check


non_negative = integer(0)
any_int = integer()


def number(lo: float | None = None, hi: float | None = None) -> Checker:
    def check(v: Any) -> None:
        if type(v) is not float and type(v) is not int:
            raise Bad("must be a number")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise Bad(f"must be a number between {lo} and {hi}")

    return check


def timestamp(v: Any) -> None:
    if type(v) is not str or _split(v) is None:
        raise Bad("must be a UTC timestamp YYYY-MM-DDTHH:MM:SS[.s+]Z (§2.16)")


def timestamp_millis(v: Any) -> None:
    """``created``/``modified``: minimum precision milliseconds (§3.2)."""
    parts = _split(v) if type(v) is str else None
    if parts is None:
        raise Bad("must be a UTC timestamp YYYY-MM-DDTHH:MM:SS.sssZ (§2.16)")
    if len(parts[1]) < 3:
        raise Bad("must be precise to at least the millisecond (§3.2)")


def timestamp_seconds(v: Any) -> None:
    """Timestamps that MUST be precise to the second (no sub-second part)."""
    parts = _split(v) if type(v) is str else None
    if parts is None or parts[1]:
        raise Bad("must be a UTC timestamp YYYY-MM-DDTHH:MM:SSZ precise to the second")


def enum(values: Collection[str], name: str) -> Checker:
    allowed = frozenset(values)

    def check(v: Any) -> None:
        if type(v) is not str or v not in allowed:
            raise Bad(f"must be a value of the {name} enumeration")

    return check


def hex_(v: Any) -> None:
    if type(v) is not str or _HEX_RE.fullmatch(v) is None:
        raise Bad("must be an even number of hexadecimal digits (§2.8)")


def binary(v: Any) -> None:
    if type(v) is not str or _BIN_RE.fullmatch(v) is None:
        raise Bad("must be base64-encoded binary data (§2.1)")


def lang(v: Any) -> None:
    if type(v) is not str or not vocab.is_language_tag(v):
        raise Bad("must be an RFC 5646 language code")


def charset(v: Any) -> None:
    if type(v) is not str or not vocab.is_charset_name(v):
        raise Bad("must be a character set name from the IANA registry")


# -- lists and dictionaries -----------------------------------------------------------------


def string_list(v: Any) -> None:
    if type(v) is not list or not v:
        raise Bad("must be a non-empty list of strings (§2.12)")
    for i, x in enumerate(v):
        if type(x) is not str:
            raise Bad("must be a string", f"[{i}]")


def list_of(item: Checker) -> Checker:
    def check(v: Any) -> None:
        if type(v) is not list or not v:
            raise Bad("must be a non-empty list (§2.12)")
        for i, x in enumerate(v):
            try:
                item(x)
            except Bad as e:
                raise Bad(e.reason, f"[{i}]{e.path}") from None

    return check


def _json_value(v: Any, path: str) -> None:
    """A dictionary or custom property value: any STIX base type, so no null and no
    empty list (§2.3, §2.12). Content nested deeper is the producer's own structure."""
    if v is None:
        raise Bad("null is not a STIX value", path)
    if type(v) is list and not v:
        raise Bad("empty lists are not allowed (§2.12)", path)


def dictionary(v: Any) -> None:
    if type(v) is not dict or not v:
        raise Bad("must be a non-empty dictionary (§2.3)")
    for k, x in v.items():
        if _DICT_KEY_RE.fullmatch(k) is None:
            raise Bad(
                "dictionary keys must be 1-250 characters of a-z, A-Z, 0-9, '-', '_' (§2.3)",
                f".{k}",
            )
        _json_value(x, f".{k}")


def dict_of(value: Checker, what: str) -> Checker:
    def check(v: Any) -> None:
        dictionary(v)
        for k, x in v.items():
            try:
                value(x)
            except Bad as e:
                raise Bad(f"{what}: {e.reason}", f".{k}{e.path}") from None

    return check


def int_or_string(v: Any) -> None:
    if type(v) is not int and type(v) is not str:
        raise Bad("must be an integer or a string")


#: Hash algorithm name (upper case, without '-' and '_') -> value format (§2.7: the value
#: MUST be in the format of the algorithm named by the key).
_H = "[0-9a-fA-F]"
HASH_FORMATS: dict[str, re.Pattern[str]] = {
    k: re.compile(p)
    for k, p in {
        "MD5": f"{_H}{{32}}",
        "SHA1": f"{_H}{{40}}",
        "SHA224": f"{_H}{{56}}",
        "SHA256": f"{_H}{{64}}",
        "SHA384": f"{_H}{{96}}",
        "SHA512": f"{_H}{{128}}",
        "SHA3224": f"{_H}{{56}}",
        "SHA3256": f"{_H}{{64}}",
        "SHA3384": f"{_H}{{96}}",
        "SHA3512": f"{_H}{{128}}",
        "RIPEMD160": f"{_H}{{40}}",
        "WHIRLPOOL": f"{_H}{{128}}",
        "SSDEEP": "[a-zA-Z0-9/+:.]{1,128}",
    }.items()
}


def hashes(v: Any) -> None:
    if type(v) is not dict or not v:
        raise Bad("must be a non-empty dictionary of hashes (§2.7)")
    for k, h in v.items():
        if _HASH_KEY_RE.fullmatch(k) is None:
            raise Bad(
                "hash algorithm names must be 3-250 characters of a-z, A-Z, 0-9, '-', '_' (§2.7)",
                f".{k}",
            )
        if type(h) is not str:
            raise Bad("a hash value must be a string", f".{k}")
        fmt = HASH_FORMATS.get(k.upper().replace("-", "").replace("_", ""))
        if fmt is not None and fmt.fullmatch(h) is None:
            raise Bad(f"not a valid {k} hash value (§2.7)", f".{k}")


# -- references ------------------------------------------------------------------------------

_NOT_SDO_OR_SCO = SRO_TYPES | META_TYPES | {"bundle"}
_NOT_SDO = SCO_TYPES | SRO_TYPES | META_TYPES | {"bundle"}


def _any_object(t: str) -> bool:
    return t != "bundle"


def _sdo_or_sco(t: str) -> bool:
    return t not in _NOT_SDO_OR_SCO


def _sdo(t: str) -> bool:
    return t not in _NOT_SDO


def _sco(t: str) -> bool:
    return t in SCO_TYPES or t not in SPEC_TYPES


def _sco_or_sro(t: str) -> bool:
    return t in SCO_TYPES or t in SRO_TYPES or t not in SPEC_TYPES


#: Reference target kinds that are not a fixed list of types.
ANY_OBJECT: Callable[[str], bool] = _any_object
SDO_OR_SCO: Callable[[str], bool] = _sdo_or_sco
SDO_ONLY: Callable[[str], bool] = _sdo
SCO_ONLY: Callable[[str], bool] = _sco
SCO_OR_SRO: Callable[[str], bool] = _sco_or_sro

Target = Collection[str] | Callable[[str], bool]


def ref(target: Target, what: str) -> Checker:
    if callable(target):
        pred = target

        def check(v: Any) -> None:
            t = id_type(v)
            if t is None:
                raise Bad("must be an identifier <type>--<UUID> (§2.9)")
            if not pred(t):
                raise Bad(f"must reference {what}, not {t}")

    else:
        allowed = frozenset(target)

        def check(v: Any) -> None:
            t = id_type(v)
            if t is None:
                raise Bad("must be an identifier <type>--<UUID> (§2.9)")
            if t not in allowed:
                raise Bad(f"must reference {what}, not {t}")

    return check


def refs(target: Target, what: str) -> Checker:
    return list_of(ref(target, what))


# -- structured common types --------------------------------------------------------------------


class ObjSpec:
    """A nested object type: known properties, required ones, and optional rules.

    Unknown keys follow the custom-property rules (§11.1) when ``custom`` is true (the
    predefined extensions); in the data types (``custom=False``) they are left alone,
    the specification saying nothing about them.
    """

    __slots__ = ("name", "props", "required", "at_least_one", "extra", "custom")

    def __init__(
        self,
        name: str,
        props: Mapping[str, Checker],
        required: Collection[str] = (),
        at_least_one: Collection[str] | None = None,
        extra: Callable[[dict[str, Any]], None] | None = None,
        custom: bool = True,
    ) -> None:
        self.name = name
        self.props = dict(props)
        self.required = tuple(required)
        self.at_least_one = tuple(at_least_one) if at_least_one is not None else None
        self.extra = extra
        self.custom = custom

    def __call__(self, v: Any) -> None:
        if type(v) is not dict:
            raise Bad(f"must be a {self.name} object")
        for r in self.required:
            if r not in v:
                raise Bad(f"{self.name}: required property is missing", f".{r}")
        if self.at_least_one is not None and not any(p in v for p in self.at_least_one):
            raise Bad(f"{self.name} must have at least one of: {', '.join(self.at_least_one)}")
        props = self.props
        for k, x in v.items():
            chk = props.get(k)
            try:
                if chk is not None:
                    chk(x)
                elif self.custom:
                    custom_value(k, x)
            except Bad as e:
                raise Bad(e.reason, f".{k}{e.path}") from None
        if self.extra is not None:
            self.extra(v)


def custom_value(name: str, v: Any) -> None:
    """A property this library does not define: custom-property rules (§11.1, §3.1, §3.8)."""
    if PROPERTY_NAME_RE.fullmatch(name) is None:
        raise Bad(
            "property names must be 3-250 characters of a-z, 0-9 and '_', starting with a letter (§3.1, §11.1)"
        )
    if name in RESERVED_PROPERTIES:
        raise Bad("reserved property name, must not be used (§3.8)")
    if name.endswith("_hex"):
        hex_(v)
    elif name.endswith("_bin"):
        binary(v)
    else:
        _json_value(v, "")


def _extref_extra(v: dict[str, Any]) -> None:
    if "description" not in v and "url" not in v and "external_id" not in v:
        raise Bad(
            "an external reference needs description, url or external_id besides source_name (§2.5.2)"
        )


external_reference = ObjSpec(
    "external-reference",
    {
        "source_name": string,
        "description": string,
        "url": string,
        "hashes": hashes,
        "external_id": string,
    },
    required=("source_name",),
    extra=_extref_extra,
    custom=False,
)
external_references = list_of(external_reference)

kill_chain_phase = ObjSpec(
    "kill-chain-phase",
    {"kill_chain_name": string, "phase_name": string},
    required=("kill_chain_name", "phase_name"),
    custom=False,
)
kill_chain_phases = list_of(kill_chain_phase)

marking_refs = refs(("marking-definition",), "a marking-definition")


def _granular_extra(v: dict[str, Any]) -> None:
    if ("marking_ref" in v) == ("lang" in v):
        raise Bad("a granular marking needs exactly one of marking_ref and lang (§7.2.3.1)")


granular_marking = ObjSpec(
    "granular-marking",
    {
        "selectors": string_list,
        "marking_ref": ref(("marking-definition",), "a marking-definition"),
        "lang": lang,
    },
    required=("selectors",),
    extra=_granular_extra,
    custom=False,
)
granular_markings = list_of(granular_marking)

_INDEX_RE = re.compile(r"\[([0-9]+)\]")


def check_selectors(obj: dict[str, Any]) -> None:
    """Selectors MUST follow §7.2.3.1 syntax and select content present on the object."""
    for i, gm in enumerate(obj["granular_markings"]):
        for j, sel in enumerate(gm["selectors"]):
            node: Any = obj
            for comp in sel.split("."):
                m = _INDEX_RE.fullmatch(comp)
                if m is not None and type(node) is list:
                    idx = int(m.group(1))
                    if idx >= len(node):
                        node = None
                    else:
                        node = node[idx]
                        continue
                elif type(node) is dict and comp in node:
                    node = node[comp]
                    continue
                raise Bad(
                    f"selector {sel!r} does not select content present on the object (§7.2.3.1)",
                    f"granular_markings[{i}].selectors[{j}]",
                )
