"""Cached lookups of principals, API roots, collections and settings for request handling.

Every change to those bumps the store's *generation* in the same transaction. A request
starts with :meth:`Directory.refresh` (one small query); while the generation is
unchanged, lookups are answered from memory, so a TAXII request costs the store one
generation read and its page query. A revoked token, a disabled user or a removed grant
is seen by every process at the very next request.
"""

from __future__ import annotations

import threading
from typing import Any

from tansiq.access.policy import default_tlp
from tansiq.storage.base import ApiRoot, Collection, Organisation, Store, Token, User

_MISSING = object()


class Directory:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._generation: int | None = None
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        generation = self.store.generation()
        if generation != self._generation:
            with self._lock:
                self._cache = {}
                self._generation = generation

    def _get(self, key: tuple[Any, ...], load: Any) -> Any:
        cache = self._cache
        value = cache.get(key, _MISSING)
        if value is _MISSING:
            value = load()
            if len(cache) > 50_000:
                cache.clear()
            cache[key] = value
        return value

    # principals
    def find_token(self, token_hash: str) -> tuple[Token, User] | None:
        found: tuple[Token, User] | None = self._get(
            ("token", token_hash), lambda: self.store.find_token(token_hash)
        )
        return found

    def get_org(self, name_or_id: str | int) -> Organisation | None:
        org: Organisation | None = self._get(
            ("org", name_or_id), lambda: self.store.get_org(name_or_id)
        )
        return org

    def get_user(self, name_or_id: str | int) -> User | None:
        user: User | None = self._get(("user", name_or_id), lambda: self.store.get_user(name_or_id))
        return user

    def user_password_hash(self, user_id: int) -> str | None:
        h: str | None = self._get(("pw", user_id), lambda: self.store.user_password_hash(user_id))
        return h

    def list_orgs(self) -> list[Organisation]:
        orgs: list[Organisation] = self._get(("orgs",), self.store.list_orgs)
        return orgs

    def list_users(self) -> list[User]:
        users: list[User] = self._get(("users",), self.store.list_users)
        return users

    # never cached: they change on every failed login
    def touch_token(self, token_id: int, when: str) -> None:
        self.store.touch_token(token_id, when)

    def login_state(self, name: str) -> tuple[int, str | None]:
        return self.store.login_state(name)

    def record_login_failure(self, name: str, now: str, locked_until: str | None) -> int:
        return self.store.record_login_failure(name, now, locked_until)

    def set_login_lock(self, name: str, locked_until: str) -> None:
        self.store.set_login_lock(name, locked_until)

    def clear_login_failures(self, name: str) -> None:
        self.store.clear_login_failures(name)

    # structure
    def get_api_root(self, name: str) -> ApiRoot | None:
        root: ApiRoot | None = self._get(("root", name), lambda: self.store.get_api_root(name))
        return root

    def list_api_roots(self) -> list[ApiRoot]:
        roots: list[ApiRoot] = self._get(("roots",), self.store.list_api_roots)
        return roots

    def get_collection(self, id_or_alias: str, api_root: str | None = None) -> Collection | None:
        coll: Collection | None = self._get(
            ("coll", id_or_alias, api_root),
            lambda: self.store.get_collection(id_or_alias, api_root),
        )
        return coll

    def list_collections(self, api_root: str | None = None) -> list[Collection]:
        colls: list[Collection] = self._get(
            ("colls", api_root), lambda: self.store.list_collections(api_root)
        )
        return colls

    def default_tlp(self) -> int:
        level: int = self._get(("default_tlp",), lambda: default_tlp(self.store))
        return level
