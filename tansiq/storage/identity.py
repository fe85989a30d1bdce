"""Content identity of a version: when are two bodies "the same version"?"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

_TS_BYTES = re.compile(rb'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z"')


def _normal_ts(m: re.Match[bytes]) -> bytes:
    frac = (m.group(2) or b"").rstrip(b"0")
    return b'"' + m.group(1) + (b"." + frac if frac else b"") + b'Z"'


def body_hash(obj: dict[str, Any]) -> bytes:
    """Hash of an object's content, independent of key order and of how precisely its
    timestamps are printed (``...00Z`` and ``...00.000Z`` are the same instant)."""
    return sorted_json_hash(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS))


def sorted_json_hash(sorted_json: bytes) -> bytes:
    """:func:`body_hash` of an object already serialised with sorted keys."""
    return hashlib.sha256(_TS_BYTES.sub(_normal_ts, sorted_json)).digest()[:16]
