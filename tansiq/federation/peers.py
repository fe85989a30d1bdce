"""The peer registry: partner TAXII servers, their mappings and their sync state.

Everything lives in the store's federation state (``sync_state``) as JSON documents:

* ``peer/NAME``: the peer (URL, API root, the local organisation it acts for, interval,
  encrypted credentials, collection mappings);
* ``cursor/NAME/DIRECTION/FROM/TO``: how far a mapping got (pull: the peer's
  ``date_added`` of the last committed page; push: the local (date_added, seq) keyset);
* ``failed/NAME/push/LOCAL/REMOTE``: versions the peer refused, retried at every sync;
* ``rejected/NAME/pull/REMOTE/LOCAL``: invalid objects the peer sent (most recent kept);
* ``status/NAME``: last attempt, last success, last error, backoff.

Every instance shares one registry per database, so every ``serve`` process and host
sees the same peers and cursors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import orjson

from tansiq.clock import now_text
from tansiq.errors import InvalidInput, NotFound
from tansiq.federation.client import Credentials
from tansiq.federation.secrets import SecretBox
from tansiq.storage.base import Organisation, Store

Direction = Literal["pull", "push"]
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
DEFAULT_INTERVAL = 300.0
MIN_INTERVAL = 5.0
KEEP_REJECTED = 1000


@dataclass(frozen=True)
class Mapping:
    """One collection mapping. ``remote`` is the peer's collection as the operator named
    it (id, alias or title: resolved at every sync); ``local`` a local collection id."""

    direction: Direction
    remote: str
    local: str

    @property
    def path(self) -> str:
        if self.direction == "pull":
            return f"pull/{self.remote}/{self.local}"
        return f"push/{self.local}/{self.remote}"

    def as_dict(self) -> dict[str, str]:
        return {"direction": self.direction, "remote": self.remote, "local": self.local}


@dataclass(frozen=True)
class Peer:
    name: str
    url: str
    org: str  # the local organisation the peer acts for here
    api_root: str | None = None
    interval: float = DEFAULT_INTERVAL
    auth: str = "token"  # "token" or "basic" (what the secret holds)
    secret: str = field(default="", repr=False)  # encrypted credentials
    mappings: tuple[Mapping, ...] = ()
    created: str = ""

    @property
    def pulls(self) -> list[Mapping]:
        return [m for m in self.mappings if m.direction == "pull"]

    @property
    def pushes(self) -> list[Mapping]:
        return [m for m in self.mappings if m.direction == "push"]

    def public(self) -> dict[str, Any]:
        """Everything but the credentials (for listings and --json)."""
        return {
            "name": self.name,
            "url": self.url,
            "api_root": self.api_root,
            "org": self.org,
            "interval": self.interval,
            "auth": self.auth,
            "created": self.created,
            "mappings": [m.as_dict() for m in self.mappings],
        }

    def to_json(self) -> str:
        data = self.public()
        data["secret"] = self.secret
        return orjson.dumps(data).decode()

    @classmethod
    def from_json(cls, text: str) -> Peer:
        d = orjson.loads(text)
        return cls(
            name=d["name"],
            url=d["url"],
            org=d["org"],
            api_root=d.get("api_root"),
            interval=float(d.get("interval", DEFAULT_INTERVAL)),
            auth=d.get("auth", "token"),
            secret=d.get("secret", ""),
            mappings=tuple(
                Mapping(m["direction"], m["remote"], m["local"]) for m in d.get("mappings", ())
            ),
            created=d.get("created", ""),
        )


def check_url(url: str, what: str) -> str:
    if not re.match(r"^https?://[^/\s]+", url):
        raise InvalidInput(f"{what} '{url}' is not an http:// or https:// URL")
    return url


class Registry:
    """Peers and their state in one store; ``box`` encrypts their credentials."""

    def __init__(self, store: Store, box: SecretBox) -> None:
        self.store = store
        self.box = box

    # ------------------------------------------------------------------ peers

    def add(
        self,
        name: str,
        url: str,
        org: Organisation,
        credentials: Credentials,
        *,
        api_root: str | None = None,
        interval: float = DEFAULT_INTERVAL,
    ) -> Peer:
        if not NAME_RE.match(name):
            raise InvalidInput(
                f"peer name '{name}' must be 1-63 lower-case letters, digits, '.', '_' or '-'"
            )
        if self.store.get_state(f"peer/{name}") is not None:
            raise InvalidInput(f"peer '{name}' already exists")
        check_url(url, "discovery URL")
        if api_root is not None and api_root.startswith(("http:", "https:")):
            check_url(api_root, "API root URL")
        peer = Peer(
            name=name,
            url=url,
            org=org.name,
            api_root=api_root,
            interval=_interval(interval),
            auth="token" if credentials.token else "basic",
            secret=self._seal(credentials),
            created=now_text(),
        )
        self._save(peer)
        return peer

    def get(self, name: str) -> Peer:
        text = self.store.get_state(f"peer/{name}")
        if text is None:
            raise NotFound(f"no peer named '{name}'; see 'tansiq peer list'")
        return Peer.from_json(text)

    def peers(self) -> list[Peer]:
        return [Peer.from_json(v) for _, v in self.store.list_state("peer/")]

    def remove(self, name: str) -> None:
        self.get(name)
        for kind in ("cursor", "failed", "rejected"):
            self.store.delete_state(f"{kind}/{name}/")
        self.store.delete_state(f"status/{name}")
        self.store.delete_state(f"peer/{name}")

    def update(
        self,
        name: str,
        *,
        url: str | None = None,
        api_root: str | None = None,
        interval: float | None = None,
        credentials: Credentials | None = None,
    ) -> Peer:
        peer = self.get(name)
        if url is not None:
            peer = replace(peer, url=check_url(url, "discovery URL"))
        if api_root is not None:
            peer = replace(peer, api_root=api_root or None)
        if interval is not None:
            peer = replace(peer, interval=_interval(interval))
        if credentials is not None:
            peer = replace(
                peer,
                auth="token" if credentials.token else "basic",
                secret=self._seal(credentials),
            )
        self._save(peer)
        return peer

    def credentials(self, peer: Peer) -> Credentials:
        d = orjson.loads(self.box.decrypt(peer.secret))
        return Credentials(token=d.get("token"), user=d.get("user"), password=d.get("password"))

    def add_mapping(self, name: str, mapping: Mapping) -> Peer:
        peer = self.get(name)
        if mapping in peer.mappings:
            return peer
        peer = replace(peer, mappings=(*peer.mappings, mapping))
        self._save(peer)
        return peer

    def remove_mapping(self, name: str, mapping: Mapping) -> Peer:
        peer = self.get(name)
        if mapping not in peer.mappings:
            raise NotFound(f"peer '{name}' has no {mapping.direction} mapping {mapping.path}")
        peer = replace(peer, mappings=tuple(m for m in peer.mappings if m != mapping))
        self._save(peer)
        for kind in ("cursor", "failed", "rejected"):
            self.store.delete_state(f"{kind}/{name}/{mapping.path}")
        return peer

    def reset(self, name: str, direction: Direction | None = None) -> int:
        """Forget the cursors (everything is sent/fetched again; writes are idempotent)
        and the push failures (retried from scratch)."""
        self.get(name)
        prefix = f"cursor/{name}/" + (f"{direction}/" if direction else "")
        if direction in (None, "push"):
            self.store.delete_state(f"failed/{name}/")
        return self.store.delete_state(prefix)

    # ------------------------------------------------------------------ state

    def cursor(self, peer: Peer, mapping: Mapping) -> dict[str, Any]:
        return self._doc(f"cursor/{peer.name}/{mapping.path}", {})

    def save_cursor(self, peer: Peer, mapping: Mapping, cursor: dict[str, Any]) -> None:
        self._put(f"cursor/{peer.name}/{mapping.path}", cursor)

    def failures(self, peer: Peer, mapping: Mapping) -> list[dict[str, Any]]:
        return self._doc(f"failed/{peer.name}/{mapping.path}", [])

    def save_failures(self, peer: Peer, mapping: Mapping, failed: list[dict[str, Any]]) -> None:
        key = f"failed/{peer.name}/{mapping.path}"
        if failed:
            self._put(key, failed)
        else:
            self.store.delete_state(key)

    def rejected(self, peer: Peer, mapping: Mapping) -> dict[str, Any]:
        return self._doc(f"rejected/{peer.name}/{mapping.path}", {"count": 0, "recent": []})

    def add_rejected(self, peer: Peer, mapping: Mapping, entries: list[dict[str, Any]]) -> None:
        doc = self.rejected(peer, mapping)
        doc["count"] = int(doc["count"]) + len(entries)
        doc["recent"] = (doc["recent"] + entries)[-KEEP_REJECTED:]
        self._put(f"rejected/{peer.name}/{mapping.path}", doc)

    def status(self, name: str) -> dict[str, Any]:
        return self._doc(f"status/{name}", {})

    def save_status(self, name: str, status: dict[str, Any]) -> None:
        self._put(f"status/{name}", status)

    def make_due(self, name: str) -> None:
        """After an operator change (mapping, URL, credentials) the scheduler of a running
        ``serve`` syncs the peer at its next tick, not after its interval or backoff."""
        status = self.status(name)
        if status.get("next_attempt"):
            status["next_attempt"] = None
            self.save_status(name, status)

    # ------------------------------------------------------------------ helpers

    def _seal(self, credentials: Credentials) -> str:
        if credentials.token:
            data: dict[str, str] = {"token": credentials.token}
        elif credentials.user and credentials.password is not None:
            data = {"user": credentials.user, "password": credentials.password}
        else:
            raise InvalidInput("a peer needs a token, or a user name and a password")
        return self.box.encrypt(orjson.dumps(data).decode())

    def _save(self, peer: Peer) -> None:
        self.store.put_state(f"peer/{peer.name}", peer.to_json())

    def _doc(self, key: str, default: Any) -> Any:
        text = self.store.get_state(key)
        return default if text is None else orjson.loads(text)

    def _put(self, key: str, value: Any) -> None:
        self.store.put_state(key, orjson.dumps(value).decode())


def _interval(value: float) -> float:
    if value < MIN_INTERVAL:
        raise InvalidInput(f"interval must be at least {MIN_INTERVAL:g} seconds, not {value:g}")
    return float(value)
