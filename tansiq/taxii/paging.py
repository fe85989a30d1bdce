"""Opaque, self-contained ``next`` tokens.

A token carries the keyset position (date_added, seq) of the last row of a page, bound
by an HMAC (the instance secret) to the caller and to the exact filters of the query.
The server keeps no paging state; a token that was altered, that belongs to another
caller or that is used with another query is refused with 400.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson

from tansiq.errors import InvalidInput

_VERSION = 1
_BAD = "the 'next' token is invalid, or belongs to another query or caller"


def _sign(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()[:16]


def _fingerprint(caller: str, filters: str) -> str:
    return hashlib.sha256(f"{caller}\0{filters}".encode()).hexdigest()[:24]


def encode(secret: bytes, caller: str, filters: str, position: tuple[str, int]) -> str:
    payload = orjson.dumps([_VERSION, _fingerprint(caller, filters), position[0], position[1]])
    raw = payload + _sign(secret, payload)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(secret: bytes, caller: str, filters: str, token: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError) as exc:
        raise InvalidInput(_BAD) from exc
    if len(raw) < 17:
        raise InvalidInput(_BAD)
    payload, mac = raw[:-16], raw[-16:]
    if not hmac.compare_digest(mac, _sign(secret, payload)):
        raise InvalidInput(_BAD)
    try:
        version, fingerprint, date_added, seq = orjson.loads(payload)
    except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
        raise InvalidInput(_BAD) from exc
    if version != _VERSION or not hmac.compare_digest(
        str(fingerprint), _fingerprint(caller, filters)
    ):
        raise InvalidInput(_BAD)
    if not isinstance(date_added, str) or not isinstance(seq, int):
        raise InvalidInput(_BAD)
    return date_added, seq
