"""Fixtures of the access suite.

``amber_world``: the matrix data set (see ``world.py``) under the default marking as it
comes out of the box, built once per module (it costs about half a second).
``site`` (per test) and ``shared_site`` (per module): a small instance with a few users
(some with passwords), five collections and a live server; ``Site.cli`` runs the real
``tansiq`` command on its database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tansiq.access import admin
from tansiq.access.credentials import hash_password
from tansiq.storage.base import ApiRoot, Collection, Store
from tests.conftest import Backend, LiveServer, open_database

from .support import PASSWORD, Client, CliResult, basic, run_cli
from .world import World, build_world


@pytest.fixture(scope="module")
def amber_world(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with backend.database(tmp_path_factory.mktemp("world")) as database:
        w = build_world(database)
        yield w
        w.close()


# --------------------------------------------------------------------------- a small site

_hashes: list[str] = []


def password_hash() -> str:
    """The Argon2 hash of PASSWORD, computed once (Argon2 is slow on purpose)."""
    if not _hashes:
        _hashes.append(hash_password(PASSWORD))
    return _hashes[0]


SITE_USERS = [
    # name, org, role, with a password
    ("alice", "Alpha CERT", "analyst", True),
    ("amy", "Alpha CERT", "org-admin", False),
    ("rita", "Alpha CERT", "reader", True),
    ("root", "Alpha CERT", "admin", False),
    ("bob", "Beta Police", "analyst", True),
    ("bea", "Beta Police", "reader", False),
    ("bsync", "Beta Police", "sync", False),
    ("gus", "Gamma Customs", "analyst", False),
]


@dataclass
class Site:
    """A small instance: Alpha, Beta and Gamma, a few users, a live server.

    Collections: ``shared`` (Alpha and Beta read, both write), ``alpha`` (Alpha reads
    and writes), ``drop`` (Alpha and Beta write, nobody reads), ``pub`` (public, Alpha
    writes), ``tiny`` (in API root ``tiny`` whose max_content_length is 4096; Alpha
    reads and writes).
    """

    store: Store
    database: str  # SQLite file path or PostgreSQL URL
    server: LiveServer
    tokens: dict[str, str]
    colls: dict[str, Collection]
    clients: list[Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, user: str | None, scheme: str = "bearer") -> Client:
        if user is None:
            auth = None
        elif scheme == "bearer":
            auth = f"Bearer {self.tokens[user]}"
        else:
            auth = basic(user)
        c = Client(self.url, auth)
        self.clients.append(c)
        return c

    def raw(self, authorization: str | None) -> Client:
        c = Client(self.url, authorization)
        self.clients.append(c)
        return c

    def base(self, alias: str) -> str:
        coll = self.colls[alias]
        return f"/{coll.api_root}/collections/{coll.id}/"

    def identity(self, org: str) -> str:
        found = self.store.get_org(org)
        assert found is not None
        return found.identity_id

    def cli(self, *args: str, stdin: str = "") -> CliResult:
        return run_cli(self.database, *args, stdin=stdin)


def build_site(database: str) -> Site:
    """Populate ``database`` (migrated here) and start a server on it."""
    store = open_database(database)
    store.migrate()
    admin.ensure_api_root(store)
    store.add_api_root(ApiRoot("tiny", "Tiny root", max_content_length=4096))
    for org in ("Alpha CERT", "Beta Police", "Gamma Customs"):
        admin.add_org(store, org)
    tokens = {}
    for name, org, role, with_password in SITE_USERS:
        created = admin.add_user(store, name, org, role)
        tokens[name] = created.token
        if with_password:
            store.set_user_password_hash(created.user.id, password_hash())
    colls = {}
    for alias, read, write, public, root in [
        ("shared", ["Alpha CERT", "Beta Police"], ["Alpha CERT", "Beta Police"], False, "default"),
        ("alpha", ["Alpha CERT"], ["Alpha CERT"], False, "default"),
        ("drop", [], ["Alpha CERT", "Beta Police"], False, "default"),
        ("pub", [], ["Alpha CERT"], True, "default"),
        ("tiny", ["Alpha CERT"], ["Alpha CERT"], False, "tiny"),
    ]:
        colls[alias] = admin.add_collection(
            store,
            f"Site {alias}",
            api_root=root,
            alias=alias,
            read=read,
            write=write,
            public=public,
        )
    server = LiveServer(store).start()
    return Site(store, database, server, tokens, colls)


def close_site(s: Site) -> None:
    for c in s.clients:
        c.close()
    s.server.stop()
    s.store.close()


@pytest.fixture
def site(database: str) -> Iterator[Site]:
    s = build_site(database)
    yield s
    close_site(s)


@pytest.fixture(scope="module")
def shared_site(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Like ``site``, shared by the tests of a module that only add their own objects."""
    with backend.database(tmp_path_factory.mktemp("site")) as database:
        s = build_site(database)
        yield s
        close_site(s)
