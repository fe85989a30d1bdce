"""Instance administration: organisations, users, tokens, API roots and collections.

These are the library functions behind the operator commands; the CLI only parses
arguments and prints what they return.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import cast

from tansiq.access.credentials import check_new_password, hash_password, new_token
from tansiq.clock import now_text
from tansiq.errors import InvalidInput, NotFound
from tansiq.storage.base import (
    ROLES,
    ApiRoot,
    Collection,
    Organisation,
    Principal,
    Role,
    Store,
    Token,
    User,
)

DEFAULT_API_ROOT = "default"


def organisation_identity(name: str) -> dict[str, object]:
    now = now_text()
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": f"identity--{uuid.uuid4()}",
        "created": now,
        "modified": now,
        "name": name,
        "identity_class": "organization",
    }


def add_org(store: Store, name: str) -> Organisation:
    name = name.strip()
    if not name:
        raise InvalidInput("organisation name must not be empty")
    return store.add_org(name, organisation_identity(name))


def require_org(store: Store, name_or_id: str) -> Organisation:
    org = store.get_org(int(name_or_id) if name_or_id.isdigit() else name_or_id)
    if org is None:
        raise NotFound(f"unknown organisation '{name_or_id}'")
    return org


def require_user(store: Store, name: str) -> User:
    user = store.get_user(name)
    if user is None:
        raise NotFound(f"unknown user '{name}'")
    return user


@dataclass(frozen=True)
class NewUser:
    user: User
    token: str  # plaintext, shown once
    token_record: Token


def add_user(
    store: Store,
    name: str,
    org: str,
    role: str,
    password: str | None = None,
    token_label: str | None = "initial",
) -> NewUser:
    name = name.strip()
    if not name or ":" in name:
        raise InvalidInput("user name must be non-empty and must not contain ':'")
    if role not in ROLES:
        raise InvalidInput(f"unknown role '{role}'; choose one of {', '.join(ROLES)}")
    organisation = require_org(store, org)
    password_hash = None
    if password is not None:
        problem = check_new_password(password)
        if problem:
            raise InvalidInput(problem)
        password_hash = hash_password(password)
    role_value = cast(Role, role)
    user = store.add_user(name, organisation.id, role_value, password_hash)
    plain, hashed = new_token()
    record = store.add_token(user.id, hashed, None, token_label)
    return NewUser(user, plain, record)


def issue_token(
    store: Store, user_name: str, expires: str | None = None, label: str | None = None
) -> tuple[str, Token]:
    user = require_user(store, user_name)
    plain, hashed = new_token()
    return plain, store.add_token(user.id, hashed, expires, label)


def principal(store: Store, user_name: str) -> Principal:
    user = require_user(store, user_name)
    if user.disabled:
        raise InvalidInput(f"user '{user_name}' is disabled")
    return Principal(user=user, org=store.get_org(user.org_id))


def ensure_api_root(
    store: Store, name: str = DEFAULT_API_ROOT, title: str | None = None
) -> ApiRoot:
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise InvalidInput(f"api root name '{name}' must use letters, digits, '-' or '_' only")
    if name == "taxii2":
        raise InvalidInput("api root name 'taxii2' is reserved for discovery")
    found = store.get_api_root(name)
    if found is not None:
        return found
    return store.add_api_root(ApiRoot(name=name, title=title or f"Tansiq API root '{name}'"))


def add_collection(
    store: Store,
    title: str,
    *,
    api_root: str = DEFAULT_API_ROOT,
    alias: str | None = None,
    description: str | None = None,
    read: list[str] | tuple[str, ...] = (),
    write: list[str] | tuple[str, ...] = (),
    public: bool = False,
) -> Collection:
    if not title.strip():
        raise InvalidInput("collection title must not be empty")
    if alias is not None:
        try:
            uuid.UUID(alias)
        except ValueError:
            pass
        else:
            raise InvalidInput("a collection alias must not look like a UUID")
    ensure_api_root(store, api_root)
    read_ids = frozenset(require_org(store, o).id for o in read)
    write_ids = frozenset(require_org(store, o).id for o in write)
    return store.add_collection(
        Collection(
            id=str(uuid.uuid4()),
            api_root=api_root,
            title=title.strip(),
            description=description,
            alias=alias,
            public=public,
            read_orgs=read_ids,
            write_orgs=write_ids,
        )
    )


def require_collection(store: Store, id_or_alias: str, api_root: str | None = None) -> Collection:
    found = store.get_collection(id_or_alias, api_root)
    if found is None:
        raise NotFound(f"unknown collection '{id_or_alias}'")
    return found
