"""Shared fixtures: a real instance (SQLite file) and a real uvicorn server on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn

from tansiq.access import admin
from tansiq.storage.base import Store
from tansiq.storage.sqlite import SQLiteStore
from tansiq.taxii.app import create_app
from tansiq.taxii.settings import Settings

TAXII = "application/taxii+json;version=2.1"
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A uvicorn server in a background thread, serving ``create_app(settings, store)``."""

    def __init__(self, store: Store, settings: Settings | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings or Settings(), store),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Instance:
    """A populated instance: two organisations, users of each role, collections."""

    store: Store
    path: Path
    tokens: dict[str, str] = field(default_factory=dict)  # user name -> bearer token
    collections: dict[str, str] = field(default_factory=dict)  # alias -> id


def build_instance(path: Path) -> Instance:
    store = SQLiteStore(path)
    store.migrate()
    admin.ensure_api_root(store)
    admin.ensure_api_root(store, "second", "Second API root")
    inst = Instance(store=store, path=path)
    admin.add_org(store, "Alpha CERT")
    admin.add_org(store, "Beta Police")
    for name, org, role in [
        ("alice", "Alpha CERT", "analyst"),
        ("rita", "Alpha CERT", "reader"),
        ("bob", "Beta Police", "analyst"),
        ("root", "Alpha CERT", "admin"),
    ]:
        created = admin.add_user(store, name, org, role, PASSWORD)
        inst.tokens[name] = created.token
    for alias, title, read, write, root, public in [
        ("shared", "Shared intel", ["Alpha CERT", "Beta Police"], ["Alpha CERT"], "default", False),
        ("alpha-only", "Alpha only", ["Alpha CERT"], ["Alpha CERT"], "default", False),
        ("write-only", "Drop box", [], ["Alpha CERT"], "default", False),
        ("public", "Public feed", [], ["Alpha CERT"], "default", True),
        ("other-root", "In second root", ["Alpha CERT"], ["Alpha CERT"], "second", False),
    ]:
        coll = admin.add_collection(
            store, title, api_root=root, alias=alias, read=read, write=write, public=public
        )
        inst.collections[alias] = coll.id
    return inst


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Instance]:
    inst = build_instance(tmp_path / "tansiq.db")
    yield inst
    inst.store.close()


@pytest.fixture
def server(instance: Instance) -> Iterator[LiveServer]:
    live = LiveServer(instance.store).start()
    yield live
    live.stop()
