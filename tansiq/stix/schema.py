"""Per-type property tables: what each STIX 2.1 object type requires and allows.

A :class:`TypeSpec` lists, for one object type, the checker of every property the
specification defines (common properties included), the required properties, the
timestamp ordering rules and an optional function for rules that involve several
properties. Properties that are not in the table are custom properties (§11.1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import props as p

__all__ = ["COMMON", "TypeSpec", "Order"]

#: ``(later, earlier, strict)``: ``later`` MUST be >= (or > when strict) ``earlier``.
Order = tuple[str, str, bool]


@dataclass(frozen=True, slots=True)
class TypeSpec:
    type: str
    #: "sdo", "sro", "sco" or "meta"
    kind: str
    props: Mapping[str, p.Checker]
    required: frozenset[str]
    order: tuple[Order, ...] = ()
    extra: Callable[[dict[str, Any]], None] | None = None
    #: predefined extensions (SCOs), by extension name
    extensions: Mapping[str, p.ObjSpec] = field(default_factory=dict)


#: Every common property (§3.2) with its checker. ``type``, ``id``, ``spec_version`` and
#: ``extensions`` are handled by the validator itself.
COMMON: dict[str, p.Checker] = {
    "created_by_ref": p.ref(("identity",), "an identity"),
    "created": p.timestamp_millis,
    "modified": p.timestamp_millis,
    "revoked": p.boolean,
    "labels": p.string_list,
    "confidence": p.integer(0, 100),
    "lang": p.lang,
    "external_references": p.external_references,
    "object_marking_refs": p.marking_refs,
    "granular_markings": p.granular_markings,
    "defanged": p.boolean,
}

MODIFIED_AFTER_CREATED: Order = ("modified", "created", False)

SDO_REQUIRED = frozenset({"type", "spec_version", "id", "created", "modified"})
SCO_REQUIRED = frozenset({"type", "id"})


def spec(
    type_: str,
    kind: str,
    specific: Mapping[str, p.Checker],
    required: tuple[str, ...] = (),
    order: tuple[Order, ...] = (),
    extra: Callable[[dict[str, Any]], None] | None = None,
    extensions: Mapping[str, p.ObjSpec] | None = None,
    base_required: frozenset[str] = SDO_REQUIRED,
) -> TypeSpec:
    table = dict(COMMON)
    table.update(specific)
    return TypeSpec(
        type=type_,
        kind=kind,
        props=table,
        required=base_required | frozenset(required),
        order=(MODIFIED_AFTER_CREATED, *order) if kind != "sco" else order,
        extra=extra,
        extensions=extensions or {},
    )


#: Spec used for custom object types that look like SDOs (they have ``created``).
CUSTOM_SDO = spec("<custom>", "sdo", {})
#: Spec used for custom object types that look like SCOs (no ``created``).
CUSTOM_SCO = spec("<custom>", "sco", {}, base_required=SCO_REQUIRED)
