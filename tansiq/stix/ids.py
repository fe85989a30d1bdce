"""Object types, identifiers and SCO deterministic ids (STIX 2.1 §2.9, §3.4, §6).

An identifier is ``<object-type>--<UUID>`` where the UUID is RFC 4122 (version 1-5,
variant ``10xx``); hexadecimal digits are case-insensitive on input (RFC 4122 §3).

SCO deterministic ids are UUIDv5 in the namespace ``00abedb4-aa42-466c-9c01-fed23315a9b7``
over the RFC 8785 canonical JSON of the object's "ID Contributing Properties" that are
present (for ``hashes`` only one hash: MD5, else SHA-1, else SHA-256, else SHA-512, else
the first one given). When none is present, the spec requires a UUIDv4.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from functools import lru_cache
from typing import Any

from .canonical import canonical_json, canonical_string

__all__ = [
    "BUNDLE_TYPE",
    "META_TYPES",
    "SCO_NAMESPACE",
    "SCO_TYPES",
    "SDO_TYPES",
    "SRO_TYPES",
    "STIX20_TYPES",
    "ID_CONTRIBUTING",
    "deterministic_sco_id",
    "id_type",
    "is_sco",
    "is_sco_object",
    "is_valid_identifier",
    "is_valid_type_name",
    "sco_id",
    "uuid_version",
]

SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")

SDO_TYPES: frozenset[str] = frozenset(
    {
        "attack-pattern",
        "campaign",
        "course-of-action",
        "grouping",
        "identity",
        "incident",
        "indicator",
        "infrastructure",
        "intrusion-set",
        "location",
        "malware",
        "malware-analysis",
        "note",
        "observed-data",
        "opinion",
        "report",
        "threat-actor",
        "tool",
        "vulnerability",
    }
)
SRO_TYPES: frozenset[str] = frozenset({"relationship", "sighting"})
SCO_TYPES: frozenset[str] = frozenset(
    {
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "process",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
    }
)
META_TYPES: frozenset[str] = frozenset(
    {"language-content", "marking-definition", "extension-definition"}
)
BUNDLE_TYPE = "bundle"
SPEC_TYPES: frozenset[str] = SDO_TYPES | SRO_TYPES | SCO_TYPES | META_TYPES

#: Object types that already existed in STIX 2.0 (candidates for the 2.0 -> 2.1 upgrade).
STIX20_TYPES: frozenset[str] = frozenset(
    {
        "attack-pattern",
        "campaign",
        "course-of-action",
        "identity",
        "indicator",
        "intrusion-set",
        "malware",
        "observed-data",
        "report",
        "threat-actor",
        "tool",
        "vulnerability",
        "relationship",
        "sighting",
        "marking-definition",
    }
)

#: ID Contributing Properties per SCO type (§6, each SCO's property table).
ID_CONTRIBUTING: dict[str, tuple[str, ...]] = {
    "artifact": ("hashes", "payload_bin"),
    "autonomous-system": ("number",),
    "directory": ("path",),
    "domain-name": ("value",),
    "email-addr": ("value",),
    "email-message": ("from_ref", "subject", "body"),
    "file": ("hashes", "name", "extensions", "parent_directory_ref"),
    "ipv4-addr": ("value",),
    "ipv6-addr": ("value",),
    "mac-addr": ("value",),
    "mutex": ("name",),
    "network-traffic": (
        "start",
        "end",
        "src_ref",
        "dst_ref",
        "src_port",
        "dst_port",
        "protocols",
        "extensions",
    ),
    "process": (),
    "software": ("name", "cpe", "swid", "vendor", "version"),
    "url": ("value",),
    "user-account": ("account_type", "user_id", "account_login"),
    "windows-registry-key": ("key", "values"),
    "x509-certificate": ("hashes", "serial_number"),
}
_HASH_PREFERENCE = ("MD5", "SHA-1", "SHA-256", "SHA-512")

_TYPE_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
)


def is_valid_type_name(s: object) -> bool:
    """Type names: 3-250 chars of ``[a-z0-9-]``, starting with a letter (§3.1), no
    leading, trailing or doubled hyphen (§11.2, §7.3.2.2)."""
    return isinstance(s, str) and (
        s in SPEC_TYPES or (3 <= len(s) <= 250 and _TYPE_RE.fullmatch(s) is not None)
    )


@lru_cache(maxsize=16384)
def _id_type(s: str) -> str | None:
    i = s.find("--")
    if i < 0:
        return None
    t = s[:i]
    if not is_valid_type_name(t) or _UUID_RE.fullmatch(s, i + 2) is None:
        return None
    return t


def id_type(s: object) -> str | None:
    """The object-type part of a valid identifier, or ``None`` if ``s`` is not one."""
    if type(s) is not str:
        return None
    return _id_type(s)


def is_valid_identifier(s: str) -> bool:
    """True when ``s`` is ``<valid type>--<RFC 4122 UUID>``."""
    return id_type(s) is not None


def uuid_version(identifier: str) -> int:
    """UUID version digit of a valid identifier."""
    return int(identifier[identifier.find("--") + 16], 16)


def is_sco(type_: str) -> bool:
    """True for the 18 SCO types of the specification."""
    return type_ in SCO_TYPES


def is_sco_object(obj: dict[str, Any]) -> bool:
    """SCO-like object: a spec SCO type, or a custom type without ``created``."""
    t = obj.get("type")
    if t in SCO_TYPES:
        return True
    return t not in SPEC_TYPES and "created" not in obj


def _contributing(obj: dict[str, Any], props: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in props:
        if p not in obj:
            continue
        v = obj[p]
        if p == "hashes" and isinstance(v, dict):
            chosen = next((k for k in _HASH_PREFERENCE if k in v), None)
            if chosen is None:
                chosen = next(iter(v), None)
            if chosen is None:
                continue
            v = {chosen: v[chosen]}
        out[p] = v
    return out


_NS_BYTES = SCO_NAMESPACE.bytes


def _uuid5(name: str) -> str:
    """RFC 4122 UUIDv5 of ``name`` in the SCO namespace (same as ``uuid.uuid5``, faster)."""
    h = bytearray(hashlib.sha1(_NS_BYTES + name.encode("utf-8")).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50
    h[8] = (h[8] & 0x3F) | 0x80
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


@lru_cache(maxsize=16384)
def _single_string_id(type_: str, prop: str, value: str) -> str:
    return f"{type_}--{_uuid5('{' + canonical_string(prop) + ':' + canonical_string(value) + '}')}"


def deterministic_sco_id(obj: dict[str, Any]) -> str | None:
    """UUIDv5 id from the ID Contributing Properties, or ``None`` when the type has none
    (process, custom types) or none of them is present."""
    t = obj.get("type")
    props = ID_CONTRIBUTING.get(t) if isinstance(t, str) else None
    if not props:
        return None
    if len(props) == 1:
        p = props[0]
        if p not in obj:
            return None
        v = obj[p]
        if type(v) is str:
            return _single_string_id(t, p, v)
        name = canonical_json({p: v})
    else:
        data = _contributing(obj, props)
        if not data:
            return None
        name = canonical_json(data)
    return f"{t}--{_uuid5(name)}"


def sco_id(obj: dict[str, Any]) -> str:
    """The id an SCO should carry: deterministic UUIDv5 when possible, else a new UUIDv4."""
    det = deterministic_sco_id(obj)
    if det is not None:
        return det
    return f"{obj.get('type')}--{uuid.uuid4()}"
