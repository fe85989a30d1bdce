"""medallion (OASIS's reference TAXII 2.1 server) running for real on loopback, as a peer.

``medallion_server(tmp_path, collections=...)`` is a context manager giving
``(discovery_url, credentials, collection ids)``; ``MedallionServer`` underneath can also be
stopped and started again on the same port with its data kept (a peer restarting), and
shows what medallion stored (``stored(collection_id)``).

Each server is a Flask app of its own (medallion's views, error handlers and HTTP Basic
auth registered on it; medallion's module-level app is not used, so several servers can
run in one process), with medallion's memory backend loaded from a JSON data file written
to ``tmp_path``, served by werkzeug in a daemon thread (one request at a time: the memory
backend is not thread-safe).

Quirks of medallion 3.0.0 (memory backend) that a client or a test has to know:

* Authentication is HTTP Basic only (flask-httpauth, plain-text passwords from the config);
  no Bearer tokens. Users have no per-collection rights: ``can_read``/``can_write`` are
  fixed properties of each collection in the data file.
* Pages are capped at ``max_page_size`` (config ``taxii.max_page_size``, 100 here by
  default); a larger ``limit`` is silently lowered, with ``more: true`` and ``next``.
* ``next`` is server-side state: the rest of the result set is copied at the first
  request and dropped 30 to 40 s later (``session_timeout``, checked every 10 s); a
  request with ``next`` must repeat the original filters exactly AND carry ``limit``
  (without it medallion fails with a 500), and an expired or unknown ``next`` is a 400. The ``next`` value is the same on every
  page of one listing. Objects added after the first page are not in that listing: a
  puller sees them on its next run (added_after = its cursor).
* ``date_added`` has microsecond precision but is the time of the POST request: every
  object of one envelope shares it. Paging by ``X-TAXII-Date-Added-Last`` alone (without
  ``next``) could therefore skip objects that share the last timestamp of a page; medallion
  always gives ``next``, so a client that follows ``next`` loses nothing.
* An empty result is ``{}`` (no ``more``, no date headers).
* POST statuses are always ``complete`` at once (never ``pending``). Re-posting an
  (id, modified) that is already stored is reported as a FAILURE ("Unable to process
  object"), although TAXII 2.1 section 5.5 says a duplicate MUST NOT be an error: a pusher
  must treat that failure on medallion as "already there", not retry it forever. An object
  without ``modified`` is immutable: any re-post of its id fails the same way.
* medallion validates nothing of STIX: any JSON object with an ``id`` is stored as sent.
* POST needs a Content-Length no larger than the API root's ``max_content_length``
  (413 otherwise).
"""

from __future__ import annotations

import copy
import json
import secrets
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import medallion
from flask import Flask
from medallion.backends.memory_backend import MemoryBackend
from medallion.exceptions import BackendError, ProcessingError
from medallion.views import collections as collections_views
from medallion.views import discovery as discovery_views
from medallion.views import manifest as manifest_views
from medallion.views import objects as objects_views
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tansiq.federation.client import Credentials

TAXII_21 = "application/taxii+json;version=2.1"
STIX_21 = "application/stix+json;version=2.1"
USER = "tansiq-peer"


@dataclass(frozen=True)
class MedallionCollection:
    """One collection of the data file; ``objects`` are preloaded (each its own date_added)."""

    title: str
    alias: str | None = None
    can_read: bool = True
    can_write: bool = True
    objects: Sequence[dict[str, Any]] = ()
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def key(self) -> str:
        return self.alias or self.title


class MedallionPeer(NamedTuple):
    discovery_url: str
    credentials: Credentials
    collections: dict[str, str]  # alias (else title) -> collection id


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _date_added(base: datetime, n: int) -> str:
    return (base + timedelta(microseconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _collection_record(coll: MedallionCollection, base: datetime) -> dict[str, Any]:
    objects: list[dict[str, Any]] = []
    manifest: list[dict[str, Any]] = []
    for n, original in enumerate(coll.objects):
        obj = copy.deepcopy(original)
        added = _date_added(base, n)
        version = obj.get("modified") or obj.get("created") or added
        if "modified" not in obj and "created" not in obj:
            obj["_date_added"] = version  # how medallion versions an SCO (hidden in answers)
        objects.append(obj)
        spec = obj.get("spec_version", "2.1" if "created" not in obj else "2.0")
        manifest.append(
            {
                "id": obj["id"],
                "date_added": added,
                "version": version,
                "media_type": f"application/stix+json;version={spec}",
            }
        )
    record: dict[str, Any] = {
        "id": coll.id,
        "title": coll.title,
        "description": f"medallion test collection '{coll.title}'",
        "can_read": coll.can_read,
        "can_write": coll.can_write,
        "media_types": [STIX_21],
        "objects": objects,
        "manifest": manifest,
    }
    if coll.alias:
        record["alias"] = coll.alias
    return record


class MedallionServer:
    """One medallion server (its own Flask app and memory backend) on a loopback port."""

    def __init__(
        self,
        data_dir: Path,
        collections: Sequence[MedallionCollection],
        *,
        api_root: str = "api1",
        max_page_size: int = 100,
        max_content_length: int = 10 * 1024 * 1024,
        session_timeout: int = 30,
    ) -> None:
        self.api_root = api_root
        self.collections = list(collections)
        self.password = secrets.token_urlsafe(18)
        self.credentials = Credentials(user=USER, password=self.password)
        self.app = Flask(f"medallion-{uuid.uuid4().hex[:8]}")
        self.app.users_backend = {USER: self.password}  # type: ignore[attr-defined]
        self.app.taxii_config = {"max_page_size": max_page_size}  # type: ignore[attr-defined]
        for bp in (
            collections_views.collections_bp,
            discovery_views.discovery_bp,
            manifest_views.manifest_bp,
            objects_views.objects_bp,
        ):
            self.app.register_blueprint(bp)
        self.app.register_error_handler(500, medallion.handle_error)
        self.app.register_error_handler(ProcessingError, medallion.handle_processing_error)
        self.app.register_error_handler(BackendError, medallion.handle_backend_error)

        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._bind(0)  # the port is needed for the discovery document
        assert self._server is not None
        self.port: int = self._server.port
        self.url: str = f"http://127.0.0.1:{self.port}"
        self.discovery_url: str = f"{self.url}/taxii2/"
        self.api_root_url: str = f"{self.url}/{api_root}/"

        base = datetime(2020, 1, 1, tzinfo=UTC)
        data = {
            "/discovery": {
                "title": "medallion (test peer)",
                "description": "OASIS reference TAXII 2.1 server",
                "default": self.api_root_url,
                "api_roots": [self.api_root_url],
            },
            api_root: {
                "information": {
                    "title": f"medallion API root {api_root}",
                    "versions": [TAXII_21],
                    "max_content_length": max_content_length,
                },
                "status": [],
                "collections": [_collection_record(c, base) for c in self.collections],
            },
        }
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_file = data_dir / f"medallion-{self.port}.json"
        self.data_file.write_text(json.dumps(data, indent=1), encoding="utf-8")
        self.backend: Any = MemoryBackend(
            filename=str(self.data_file), session_timeout=session_timeout, check_interval=10
        )
        self.app.medallion_backend = self.backend

    @property
    def peer(self) -> MedallionPeer:
        return MedallionPeer(
            self.discovery_url, self.credentials, {c.key: c.id for c in self.collections}
        )

    def _bind(self, port: int) -> None:
        self._server = make_server(
            "127.0.0.1", port, self.app, threaded=False, request_handler=_QuietHandler
        )

    def start(self) -> MedallionServer:
        if self._server is None:
            self._bind(self.port)
        assert self._server is not None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"medallion-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (the port refuses connections); the stored data is kept."""
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(timeout=10)
            self._server.server_close()
        self._server = None
        self._thread = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def stored(self, collection_id: str) -> list[dict[str, Any]]:
        """The objects medallion holds in a collection (every version), as it keeps them."""
        for coll in self.backend.data[self.api_root]["collections"]:
            if coll["id"] == collection_id:
                return [
                    {k: v for k, v in obj.items() if k != "_date_added"}
                    for obj in copy.deepcopy(coll.get("objects", []))
                ]
        raise KeyError(collection_id)

    def __enter__(self) -> MedallionServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def as_collections(
    collections: Sequence[MedallionCollection | str],
) -> list[MedallionCollection]:
    """Strings are shorthand for a readable and writable collection with that alias."""
    return [
        c if isinstance(c, MedallionCollection) else MedallionCollection(title=c, alias=c)
        for c in collections
    ]


@contextmanager
def medallion_server(
    tmp_path: Path,
    collections: Sequence[MedallionCollection | str] = ("intel",),
    *,
    max_page_size: int = 100,
    max_content_length: int = 10 * 1024 * 1024,
    api_root: str = "api1",
) -> Iterator[MedallionPeer]:
    """A running medallion: ``(discovery_url, credentials, {alias or title: id})``."""
    server = MedallionServer(
        tmp_path,
        as_collections(collections),
        api_root=api_root,
        max_page_size=max_page_size,
        max_content_length=max_content_length,
    )
    with server:
        yield server.peer
