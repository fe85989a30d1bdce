"""Contract: settings, organisations, users, tokens, api roots, collections and grants."""

from __future__ import annotations

import uuid

import pytest

from tansiq.errors import InvalidInput
from tansiq.storage.base import ROLES, ApiRoot, Collection, Organisation, Store, Token, User

from .conftest import add_collection, identity

# --------------------------------------------------------------------------- settings


def test_settings_round_trip(store: Store) -> None:
    assert store.get_setting("colour") is None
    store.set_setting("colour", "blue")
    assert store.get_setting("colour") == "blue"
    store.set_setting("colour", "green")
    assert store.get_setting("colour") == "green"
    store.set_setting("empty", "")
    assert store.get_setting("empty") == ""


def test_instance_secret_exists_and_is_stable(store: Store) -> None:
    secret = store.instance_secret()
    assert isinstance(secret, bytes)
    assert len(secret) >= 32
    assert store.instance_secret() == secret


def test_migrate_again_applies_nothing(store: Store) -> None:
    secret = store.instance_secret()
    store.set_setting("kept", "yes")
    assert store.migrate() == []
    assert store.instance_secret() == secret
    assert store.get_setting("kept") == "yes"


# --------------------------------------------------------------------------- organisations


def test_org_round_trip(store: Store) -> None:
    ident = identity("Agency A")
    org = store.add_org("Agency A", ident)
    assert isinstance(org, Organisation)
    assert isinstance(org.id, int)
    assert (org.name, org.identity_id, org.identity) == ("Agency A", ident["id"], ident)
    assert store.get_org("Agency A") == org
    assert store.get_org(org.id) == org
    assert store.get_org(ident["id"]) == org
    assert store.get_org("Agency B") is None
    assert store.get_org(org.id + 1000) is None


def test_list_orgs(store: Store) -> None:
    assert store.list_orgs() == []
    a = store.add_org("A", identity("A"))
    b = store.add_org("B", identity("B"))
    assert store.list_orgs() == [a, b]
    assert a.id != b.id


def test_duplicate_org_name_is_refused(store: Store) -> None:
    store.add_org("A", identity("A"))
    with pytest.raises(InvalidInput):
        store.add_org("A", identity("A"))
    assert [o.name for o in store.list_orgs()] == ["A"]


def test_duplicate_org_identity_is_refused(store: Store) -> None:
    ident = identity("A")
    store.add_org("A", ident)
    with pytest.raises(InvalidInput):
        store.add_org("A bis", dict(ident, name="A bis"))
    assert [o.name for o in store.list_orgs()] == ["A"]


# --------------------------------------------------------------------------- users


def test_user_round_trip(store: Store) -> None:
    org = store.add_org("A", identity("A"))
    user = store.add_user("alice", org.id, "analyst", None)
    assert user == User(user.id, "alice", org.id, "analyst", False, False)
    assert store.get_user("alice") == user
    assert store.get_user(user.id) == user
    assert store.get_user("bob") is None
    assert store.get_user(user.id + 1000) is None
    assert store.user_password_hash(user.id) is None


@pytest.mark.parametrize("role", ROLES)
def test_every_role_round_trips(store: Store, role: str) -> None:
    org = store.add_org("A", identity("A"))
    user = store.add_user(f"u-{role}", org.id, role, "$argon2id$hash")  # type: ignore[arg-type]
    assert store.get_user(user.id) == User(user.id, f"u-{role}", org.id, role, False, True)  # type: ignore[arg-type]


def test_password_hash(store: Store) -> None:
    org = store.add_org("A", identity("A"))
    user = store.add_user("alice", org.id, "reader", "$argon2id$one")
    assert user.has_password
    assert store.user_password_hash(user.id) == "$argon2id$one"
    store.set_user_password_hash(user.id, "$argon2id$two")
    assert store.user_password_hash(user.id) == "$argon2id$two"
    bob = store.add_user("bob", org.id, "reader", None)
    assert not store.get_user("bob").has_password  # type: ignore[union-attr]
    store.set_user_password_hash(bob.id, "$argon2id$bob")
    assert store.get_user("bob").has_password  # type: ignore[union-attr]
    assert store.user_password_hash(user.id) == "$argon2id$two"


def test_list_users_and_duplicate_names(store: Store) -> None:
    a = store.add_org("A", identity("A"))
    b = store.add_org("B", identity("B"))
    alice = store.add_user("alice", a.id, "analyst", None)
    bob = store.add_user("bob", b.id, "reader", None)
    assert store.list_users() == [alice, bob]
    with pytest.raises(InvalidInput):
        store.add_user("alice", b.id, "reader", None)  # names are instance-wide
    assert store.list_users() == [alice, bob]


# --------------------------------------------------------------------------- tokens


def test_token_round_trip(store: Store) -> None:
    org = store.add_org("A", identity("A"))
    user = store.add_user("alice", org.id, "analyst", None)
    token = store.add_token(user.id, "hash-1", "2030-01-01T00:00:00.000000Z", "ci")
    assert isinstance(token, Token)
    assert (token.user_id, token.expires, token.label, token.revoked, token.last_used) == (
        user.id,
        "2030-01-01T00:00:00.000000Z",
        "ci",
        False,
        None,
    )
    assert token.created
    assert store.find_token("hash-1") == (token, user)
    assert store.find_token("hash-2") is None

    store.touch_token(token.id, "2025-05-05T05:05:05.000000Z")
    found = store.find_token("hash-1")
    assert found is not None
    assert found[0].last_used == "2025-05-05T05:05:05.000000Z"
    assert found[0].id == token.id


def test_several_tokens_per_user(store: Store) -> None:
    org = store.add_org("A", identity("A"))
    alice = store.add_user("alice", org.id, "analyst", None)
    bob = store.add_user("bob", org.id, "sync", None)
    t1 = store.add_token(alice.id, "h1", None, None)
    t2 = store.add_token(alice.id, "h2", None, "laptop")
    t3 = store.add_token(bob.id, "h3", None, None)
    assert len({t1.id, t2.id, t3.id}) == 3
    assert store.find_token("h2") == (t2, alice)
    assert store.find_token("h3") == (t3, bob)
    assert t1.expires is None and t1.label is None


# --------------------------------------------------------------------------- api roots


def test_api_root_round_trip(store: Store) -> None:
    assert store.list_api_roots() == []
    root = store.add_api_root(ApiRoot("intel", "Intel", "Shared intelligence", 1024))
    assert root == ApiRoot("intel", "Intel", "Shared intelligence", 1024)
    assert store.get_api_root("intel") == root
    assert store.get_api_root("other") is None
    default = store.add_api_root(ApiRoot("default", "Default"))
    assert default.max_content_length == 10 * 1024 * 1024
    assert default.description is None
    assert sorted(store.list_api_roots(), key=lambda r: r.name) == [default, root]


def test_duplicate_api_root_name_is_refused(store: Store) -> None:
    store.add_api_root(ApiRoot("intel", "Intel"))
    with pytest.raises(InvalidInput):
        store.add_api_root(ApiRoot("intel", "Another title", "changed", 5))
    assert store.list_api_roots() == [ApiRoot("intel", "Intel")]


# --------------------------------------------------------------------------- collections


def by_id(colls: list[Collection]) -> list[Collection]:
    return sorted(colls, key=lambda c: c.id)


@pytest.fixture
def roots(store: Store) -> Store:
    store.add_api_root(ApiRoot("one", "One"))
    store.add_api_root(ApiRoot("two", "Two"))
    return store


def test_collection_round_trip(roots: Store) -> None:
    store = roots
    a = store.add_org("A", identity("A"))
    b = store.add_org("B", identity("B"))
    coll = Collection(
        id=str(uuid.uuid4()),
        api_root="one",
        title="Sahel",
        description="Groups and networks",
        alias="sahel",
        public=True,
        media_types=("application/stix+json;version=2.1",),
        read_orgs=frozenset({a.id, b.id}),
        write_orgs=frozenset({a.id}),
    )
    assert store.add_collection(coll) == coll
    assert store.get_collection(coll.id) == coll
    assert store.get_collection("sahel") == coll
    assert store.get_collection("sahel", api_root="one") == coll
    assert store.get_collection(coll.id, api_root="one") == coll
    assert store.get_collection("sahel", api_root="two") is None
    assert store.get_collection(coll.id, api_root="two") is None
    assert store.get_collection(str(uuid.uuid4())) is None


def test_collection_defaults_round_trip(roots: Store) -> None:
    coll = Collection(id=str(uuid.uuid4()), api_root="one", title="Plain")
    assert roots.add_collection(coll) == coll
    got = roots.get_collection(coll.id)
    assert got is not None
    assert (got.alias, got.public, got.description) == (None, False, None)
    assert got.read_orgs == frozenset() == got.write_orgs
    assert got.media_types == ("application/stix+json;version=2.1",)


def test_list_collections(roots: Store) -> None:
    store = roots
    c1 = add_collection(store, "one", title="first")
    c2 = add_collection(store, "two", title="second")
    c3 = add_collection(store, "one", title="third")
    assert by_id(store.list_collections("one")) == by_id([c1, c3])
    assert store.list_collections("two") == [c2]
    assert by_id(store.list_collections()) == by_id([c1, c2, c3])
    assert store.list_collections("three") == []


def test_alias_is_unique_per_api_root(roots: Store) -> None:
    store = roots
    c1 = add_collection(store, "one", alias="shared")
    with pytest.raises(InvalidInput):
        add_collection(store, "one", alias="shared")
    assert store.list_collections("one") == [c1]
    c2 = add_collection(store, "two", alias="shared")  # another api root: fine
    assert store.get_collection("shared", api_root="one") == c1
    assert store.get_collection("shared", api_root="two") == c2
    # without an api root the alias names two collections: refused, not a guess
    with pytest.raises(InvalidInput):
        store.get_collection("shared")


def test_duplicate_collection_id_is_refused(roots: Store) -> None:
    store = roots
    c1 = add_collection(store, "one", title="original")
    with pytest.raises(InvalidInput):
        store.add_collection(Collection(id=c1.id, api_root="two", title="copy"))
    assert store.list_collections() == [c1]


def test_grants_set_update_and_remove(roots: Store) -> None:
    store = roots
    a = store.add_org("A", identity("A"))
    b = store.add_org("B", identity("B"))
    c = store.add_org("C", identity("C"))
    coll = add_collection(store, "one", read_orgs=frozenset({a.id}), write_orgs=frozenset({a.id}))

    def grants() -> tuple[frozenset[int], frozenset[int]]:
        got = store.get_collection(coll.id)
        assert got is not None
        return got.read_orgs, got.write_orgs

    assert grants() == ({a.id}, {a.id})
    store.set_grant(coll.id, b.id, read=True, write=False)
    assert grants() == ({a.id, b.id}, {a.id})
    store.set_grant(coll.id, b.id, read=True, write=True)
    assert grants() == ({a.id, b.id}, {a.id, b.id})
    store.set_grant(coll.id, a.id, read=False, write=True)  # write-only (a pure sink)
    assert grants() == ({b.id}, {a.id, b.id})
    store.set_grant(coll.id, c.id, read=True, write=False)
    assert grants() == ({b.id, c.id}, {a.id, b.id})
    store.set_grant(coll.id, b.id, read=False, write=False)  # removes the grant
    assert grants() == ({c.id}, {a.id})
    store.set_grant(coll.id, b.id, read=False, write=False)  # removing twice is harmless
    assert grants() == ({c.id}, {a.id})
    # grants are per collection
    other = add_collection(store, "one")
    assert store.get_collection(other.id).read_orgs == frozenset()  # type: ignore[union-attr]
    listed = {x.id: x for x in store.list_collections("one")}
    assert listed[coll.id].read_orgs == {c.id}
    assert listed[coll.id].write_orgs == {a.id}


# --------------------------------------------------------------------------- account state


def test_disable_and_change_role(store: Store) -> None:
    org = store.add_org("A", identity("A"))
    alice = store.add_user("alice", org.id, "analyst", None)
    bob = store.add_user("bob", org.id, "reader", None)
    token = store.add_token(alice.id, "h-alice", None, None)

    store.set_user_disabled(alice.id, True)
    assert store.get_user("alice") == User(alice.id, "alice", org.id, "analyst", True, False)
    found = store.find_token("h-alice")
    assert found is not None and found[1].disabled
    assert found[0] == token
    store.set_user_role(alice.id, "org-admin")
    assert store.get_user(alice.id) == User(alice.id, "alice", org.id, "org-admin", True, False)
    store.set_user_disabled(alice.id, False)
    assert store.get_user(alice.id) == User(alice.id, "alice", org.id, "org-admin", False, False)
    assert store.get_user("bob") == bob  # untouched


def test_list_and_revoke_tokens(store: Store) -> None:
    org = store.add_org("A", identity("A"))
    alice = store.add_user("alice", org.id, "analyst", None)
    bob = store.add_user("bob", org.id, "analyst", None)
    t1 = store.add_token(alice.id, "h1", None, "one")
    t2 = store.add_token(bob.id, "h2", None, "two")
    t3 = store.add_token(alice.id, "h3", "2030-01-01T00:00:00.000000Z", None)
    assert store.list_tokens(alice.id) == [t1, t3]
    assert store.list_tokens(bob.id) == [t2]
    assert store.list_tokens() == [t1, t2, t3]

    assert store.revoke_token(t1.id) is True
    assert store.revoke_token(t1.id) is False  # already revoked
    assert store.revoke_token(t3.id + 1000) is False
    assert [(t.id, t.revoked) for t in store.list_tokens()] == [
        (t1.id, True),
        (t2.id, False),
        (t3.id, False),
    ]
    found = store.find_token("h1")
    assert found is None or found[0].revoked  # never handed out as a valid token
    assert store.find_token("h2") == (t2, bob)


def test_login_failures_count_lock_and_clear(store: Store) -> None:
    assert store.login_state("alice") == (0, None)
    assert store.record_login_failure("alice", "2025-01-01T00:00:00.000000Z", None) == 1
    assert store.record_login_failure("alice", "2025-01-01T00:00:01.000000Z", None) == 2
    assert store.login_state("alice") == (2, None)
    store.set_login_lock("alice", "2025-01-01T00:05:00.000000Z")
    assert store.login_state("alice") == (2, "2025-01-01T00:05:00.000000Z")
    # a later failure without a lock of its own keeps the current lock
    assert store.record_login_failure("alice", "2025-01-01T00:00:02.000000Z", None) == 3
    assert store.login_state("alice") == (3, "2025-01-01T00:05:00.000000Z")
    assert store.record_login_failure("bob", "2025-01-01T00:00:00.000000Z", None) == 1
    store.clear_login_failures("alice")
    assert store.login_state("alice") == (0, None)
    assert store.login_state("bob") == (1, None)
