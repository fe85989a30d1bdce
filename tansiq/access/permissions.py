"""Who may read and write a collection (collection grants; markings come later)."""

from __future__ import annotations

from tansiq.storage.base import WRITE_ROLES, Collection, Principal


def can_read(principal: Principal, collection: Collection) -> bool:
    if principal.user is None:
        return collection.public
    if principal.user.role == "admin":
        return True
    return collection.public or principal.user.org_id in collection.read_orgs


def can_write(principal: Principal, collection: Collection) -> bool:
    if principal.user is None:
        return False
    if principal.user.role == "admin":
        return True
    return principal.user.role in WRITE_ROLES and principal.user.org_id in collection.write_orgs


def can_see(principal: Principal, collection: Collection) -> bool:
    """Whether the collection's existence is visible to the caller at all."""
    return can_read(principal, collection) or can_write(principal, collection)
