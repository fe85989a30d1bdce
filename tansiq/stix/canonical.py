"""JSON Canonicalization Scheme (RFC 8785), as used for SCO deterministic ids (§2.9).

Objects are written with members sorted by the UTF-16 code units of their names, no
insignificant whitespace, strings with the minimal JSON escapes, and numbers in the
ECMAScript ``Number.prototype.toString`` form.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["canonical_json", "canonical_string"]

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
for _c in range(0x20):
    _ESCAPES.setdefault(chr(_c), f"\\u{_c:04x}")


def canonical_string(s: str) -> str:
    """A JSON string literal as RFC 8785 writes it."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in s) + '"'


def _utf16_key(s: str) -> bytes:
    return s.encode("utf-16-be")


def _number(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        raise ValueError("NaN and Infinity cannot be canonicalized")
    if v == 0:
        return "0"
    if v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    r = repr(v)
    sign = ""
    if r[0] == "-":
        sign, r = "-", r[1:]
    mant, _, exp = r.partition("e")
    e = int(exp) if exp else 0
    ip, _, fp = mant.partition(".")
    digits = (ip + fp).lstrip("0")
    # position of the decimal point relative to the first significant digit
    n = len(ip.lstrip("0")) + e if ip.strip("0") else e - (len(fp) - len(fp.lstrip("0")))
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        x = n - 1
        out = (
            digits[0]
            + ("." + digits[1:] if k > 1 else "")
            + ("e+" if x > 0 else "e-")
            + str(abs(x))
        )
    return sign + out


def canonical_json(value: Any) -> str:
    """Serialize a JSON value (dict/list/str/int/float/bool/None) per RFC 8785."""
    if isinstance(value, str):
        return canonical_string(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: _utf16_key(kv[0]))
        return "{" + ",".join(canonical_string(k) + ":" + canonical_json(v) for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    raise TypeError(f"not a JSON value: {type(value).__name__}")
