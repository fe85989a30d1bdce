"""Passwords (Argon2) and API tokens (random, stored as SHA-256 hashes, shown once)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "tsq_"
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str]:
    """A new API token: (plaintext to show once, hash to store)."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return plain, token_hash(plain)


def token_hash(plain: str) -> str:
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    a_b = a.encode() if isinstance(a, str) else a
    b_b = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_b, b_b)


def check_new_password(password: str) -> str | None:
    """Why a password is unacceptable, or None."""
    if len(password) < 12:
        return "password must be at least 12 characters long"
    if password.strip() != password:
        return "password must not start or end with whitespace"
    return None
