"""Fixtures of the TAXII 2.1 suite.

Building an instance (four Argon2 hashes) and starting uvicorn costs most of a second, so
most tests share one instance and server per module and backend (``live``) and get their own fresh
copy of the five collections of ``tests/conftest.py`` (same titles, grants and API roots,
new ids): a test only ever sees its own objects. Tests that need the whole instance to
themselves (listing every collection of an API root) use the ``instance``/``server``
fixtures of ``tests/conftest.py`` through ``pristine``/``papi``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from tansiq.access import admin
from tansiq.storage.base import ApiRoot
from tests.conftest import Backend, Instance, LiveServer, build_instance

from .support import Api, World, basic

ApiFactory = Callable[..., Api]

# alias, title, read orgs, write orgs, api root, public (as in tests/conftest.py)
COLLECTIONS: list[tuple[str, str, list[str], list[str], str, bool]] = [
    ("shared", "Shared intel", ["Alpha CERT", "Beta Police"], ["Alpha CERT"], "default", False),
    ("alpha-only", "Alpha only", ["Alpha CERT"], ["Alpha CERT"], "default", False),
    ("write-only", "Drop box", [], ["Alpha CERT"], "default", False),
    ("public", "Public feed", [], ["Alpha CERT"], "default", True),
    ("other-root", "In second root", ["Alpha CERT"], ["Alpha CERT"], "second", False),
]

_serial = itertools.count(1)


@pytest.fixture(scope="module")
def live(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Instance, LiveServer]]:
    with backend.database(tmp_path_factory.mktemp("taxii")) as database:
        inst = build_instance(database)
        server = LiveServer(inst.store).start()
        yield inst, server
        server.stop()
        inst.store.close()


def add_collection(
    world: World,
    alias: str,
    title: str | None = None,
    *,
    read: list[str] | None = None,
    write: list[str] | None = None,
    api_root: str = "default",
    public: bool = False,
) -> str:
    """Add a collection for this test (unique alias on the instance) under ``alias``."""
    coll = admin.add_collection(
        world.store,
        title or f"Collection {alias}",
        api_root=api_root,
        alias=f"{alias}-{next(_serial)}",
        read=["Alpha CERT", "Beta Police"] if read is None else read,
        write=["Alpha CERT"] if write is None else write,
        public=public,
    )
    world.collections[alias] = coll.id
    return coll.id


@pytest.fixture
def world(live: tuple[Instance, LiveServer]) -> World:
    inst, server = live
    w = World(inst.store, server.url, inst.tokens, {})
    for alias, title, read, write, root, public in COLLECTIONS:
        add_collection(w, alias, title, read=read, write=write, api_root=root, public=public)
    return w


@pytest.fixture
def pristine(instance: Instance, server: LiveServer) -> World:
    """The function-scoped instance and server of tests/conftest.py, to itself."""
    return World(instance.store, server.url, instance.tokens, instance.collections)


def _factory(w: World) -> Iterator[ApiFactory]:
    made: list[Api] = []

    def make(user: str | None, scheme: str = "bearer", authorization: str | None = None) -> Api:
        if authorization is None and user is not None:
            authorization = f"Bearer {w.tokens[user]}" if scheme == "bearer" else basic(user)
        client = Api(w, authorization, user)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def api(world: World) -> Iterator[ApiFactory]:
    """``api("alice")`` (Bearer), ``api("alice", scheme="basic")``, ``api(None)`` (anonymous)."""
    yield from _factory(world)


@pytest.fixture
def papi(pristine: World) -> Iterator[ApiFactory]:
    """Like ``api``, on the pristine instance."""
    yield from _factory(pristine)


@pytest.fixture
def alice(api: ApiFactory) -> Api:
    return api("alice")


@pytest.fixture
def bob(api: ApiFactory) -> Api:
    return api("bob")


@pytest.fixture
def rita(api: ApiFactory) -> Api:
    return api("rita")


@pytest.fixture
def root(api: ApiFactory) -> Api:
    return api("root")


@pytest.fixture
def anon(api: ApiFactory) -> Api:
    return api(None)


TINY_LIMIT = 4096


@pytest.fixture
def tiny(world: World) -> str:
    """A collection "tiny" in API root "tiny" whose max_content_length is 4096 octets."""
    if world.store.get_api_root("tiny") is None:
        world.store.add_api_root(ApiRoot("tiny", "Tiny root", max_content_length=TINY_LIMIT))
    return add_collection(world, "tiny", read=["Alpha CERT"], api_root="tiny")
