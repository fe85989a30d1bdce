"""Turn an ``Authorization`` header into a Principal (HTTP Basic, or a token as
``Bearer`` or ``Token``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
import time

from tansiq.access.credentials import token_hash, verify_password
from tansiq.access.directory import Directory
from tansiq.clock import after, now_text
from tansiq.errors import AuthenticationError
from tansiq.storage.base import ANONYMOUS, Principal, Store, User

LOCK_AFTER = 5  # consecutive failures before a name is locked
LOCK_MAX_SECONDS = 900  # lock doubles from 1 s up to 15 min
_TOUCH_EVERY = 60.0  # seconds between two writes of a token's last_used
_CACHE_TTL = 60.0  # seconds a verified Basic credential is remembered
_BAD = "invalid credentials"


class Authenticator:
    """Checks credentials against the store.

    Argon2 is slow on purpose, so a successful Basic check is remembered for a minute,
    keyed by a hash of (user, password, stored hash): a password change or a disabled
    user invalidates it.
    """

    def __init__(self, store: Store | Directory) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._basic_ok: dict[str, float] = {}
        self._touched: dict[int, float] = {}

    def principal_for(self, user: User) -> Principal:
        org = self.store.get_org(user.org_id)
        return Principal(user=user, org=org)

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            return ANONYMOUS
        scheme, _, value = authorization.partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        # "Token" is what OASIS's taxii2-client (TokenAuth) sends
        if scheme in ("bearer", "token") and value:
            return self._bearer(value)
        if scheme == "basic" and value:
            return self._basic(value)
        raise AuthenticationError(_BAD)

    def _bearer(self, plain: str) -> Principal:
        found = self.store.find_token(token_hash(plain))
        if found is None:
            raise AuthenticationError(_BAD)
        token, user = found
        now = now_text()
        if token.revoked or user.disabled or (token.expires is not None and token.expires <= now):
            raise AuthenticationError(_BAD)
        mono = time.monotonic()
        with self._lock:
            last = self._touched.get(token.id, 0.0)
            due = mono - last > _TOUCH_EVERY
            if due:
                self._touched[token.id] = mono
        if due:
            self.store.touch_token(token.id, now)
        return self.principal_for(user)

    def _basic(self, value: str) -> Principal:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:  # not base64, not ASCII, not UTF-8
            raise AuthenticationError(_BAD) from exc
        name, sep, password = decoded.partition(":")
        if not sep:
            raise AuthenticationError(_BAD)
        failures, locked_until = self.store.login_state(name)
        now = now_text()
        if locked_until is not None and locked_until > now:
            # locked: answer exactly like a wrong password, without checking it
            raise AuthenticationError(_BAD)
        try:
            principal = self._check_basic(name, password)
        except AuthenticationError:
            count = self.store.record_login_failure(name, now, None)
            if count >= LOCK_AFTER:
                seconds = min(LOCK_MAX_SECONDS, 2 ** (count - LOCK_AFTER))
                self.store.set_login_lock(name, after(now, seconds * 1_000_000))
            raise
        if failures:  # failures must be consecutive to lock: a success clears them
            self.store.clear_login_failures(name)
        return principal

    def _check_basic(self, name: str, password: str) -> Principal:
        user = self.store.get_user(name)
        stored = self.store.user_password_hash(user.id) if user else None
        if user is None or stored is None or user.disabled:
            # spend comparable time so that unknown users are not revealed by timing
            verify_password(_dummy_hash(), password)
            raise AuthenticationError(_BAD)
        key = hashlib.sha256(f"{user.id}\0{password}\0{stored}".encode()).hexdigest()
        mono = time.monotonic()
        with self._lock:
            seen = self._basic_ok.get(key)
        if seen is None or mono - seen > _CACHE_TTL:
            if not verify_password(stored, password):
                raise AuthenticationError(_BAD)
            with self._lock:
                if len(self._basic_ok) > 10_000:
                    self._basic_ok.clear()
                self._basic_ok[key] = mono
        return self.principal_for(user)


_dummy: list[str] = []


def _dummy_hash() -> str:
    if not _dummy:
        from tansiq.access.credentials import hash_password

        _dummy.append(hash_password(secrets.token_hex(16)))
    return _dummy[0]
