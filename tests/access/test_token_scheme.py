"""A token is accepted as ``Bearer`` and as ``Token`` (OASIS's taxii2-client TokenAuth)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from taxii2client.common import TokenAuth
from taxii2client.v21 import Server

from tansiq.access import admin
from tansiq.access.authenticate import Authenticator
from tansiq.errors import AuthenticationError
from tansiq.storage.base import Store
from tests.conftest import LiveServer, open_database


@pytest.fixture
def instance(database: str) -> Iterator[tuple[Store, str]]:
    store = open_database(database)
    store.migrate()
    admin.ensure_api_root(store)
    admin.add_org(store, "Alpha")
    token = admin.add_user(store, "alice", "Alpha", "analyst").token
    admin.add_collection(store, "Shared", alias="shared", read=["Alpha"], write=["Alpha"])
    yield store, token
    store.close()


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "Token", "token"])
def test_schemes(instance: tuple[Store, str], scheme: str) -> None:
    store, token = instance
    principal = Authenticator(store).authenticate(f"{scheme} {token}")
    assert principal.user is not None and principal.user.name == "alice"


@pytest.mark.parametrize("header", ["Token", "Token tsq_wrong", "Digest x", "Bearer"])
def test_bad_headers_are_the_uniform_401(instance: tuple[Store, str], header: str) -> None:
    store, _ = instance
    with pytest.raises(AuthenticationError, match="^invalid credentials$"):
        Authenticator(store).authenticate(header)


def test_taxii2client_token_auth(instance: tuple[Store, str]) -> None:
    store, token = instance
    server = LiveServer(store).start()
    try:
        client = Server(f"{server.url}/taxii2/", auth=TokenAuth(token))
        titles = [c.title for c in client.default.collections]
        assert titles == ["Shared"]
    finally:
        server.stop()
