"""The syncing process of the federation part, run in a fresh process by the runner.

    python -m bench.federation_worker sync DB PEER
    python -m bench.federation_worker incremental DB PEER SOURCE_DB SOURCE_COLLECTION USER ROUNDS BATCH TAG
    python -m bench.federation_worker floor OBJECTS_URL TOKEN LIMIT

``sync``: ``Scheduler(store, registry).run_once([PEER])`` on the database DB (what
``tansiq sync PEER --once`` runs; ``tansiq serve`` runs the same per peer), timed from the
call to its return: the peer's lease taken (renewed after every page, then released), the
TAXII client made (discovery, API root, collection list), every page fetched or sent,
committed and its cursor saved, the peer's status recorded. Where the time goes is
measured by timing wrappers around the parts of the hot path (pull: the HTTP exchange,
the client's JSON parsing and checks, ``ingest.bundle.prepare``, ``store.write_versions``;
push: ``store.query``, the rows' JSON, the client's envelope building, the HTTP exchange
(the peer's validation and write happen inside it); both: the sync state writes). The
wrappers cost a few microseconds per page. The RSS after each page is recorded too.

``incremental``: the cursor is first set at the end of what is already there (pull: the
source collection's last ``date_added``; push: the local (date_added, seq) of its last
version), as after a completed sync. Then, ROUNDS times: BATCH new objects are written to
SOURCE_COLLECTION of SOURCE_DB as USER (``ingest.bundle.write_objects``, the library call
behind ``tansiq import`` and TAXII POST), and ``run_once`` is timed. For a push the source
database is DB itself.

``floor``: the pages a pull asks for (same URL, limit, ``match[version]=all``, token),
fetched with a bare ``httpx.Client`` following ``next`` to the end: no validation, no
writes, no cursor. The JSON is parsed (to read ``next``); that time is given apart.

Each prints one JSON line last, like bench/workers.py; the runner takes the peak RSS of
this process from ``wait4``.
"""

from __future__ import annotations

import functools
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import orjson

TAXII_21 = "application/taxii+json;version=2.1"
TLP_CYCLE = ("clear", "green", "amber")  # what a sync account may receive (never RED)


def _emit(result: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()


class Clock:
    """Accumulated wall time per part of the hot path."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
                self.calls[name] = self.calls.get(name, 0) + 1

        return timed

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def snapshot(self) -> dict[str, Any]:
        return {
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
            "calls": dict(self.calls),
        }


class TimedTransport(httpx.HTTPTransport):
    """httpx's own transport; the time of each exchange (request sent, whole response
    body received) is accumulated under "http", and under "http_get" (object pages) or
    "http_post" (envelopes) for the breakdown, with the request and response sizes."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.sent = 0
        self.received = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        t0 = time.perf_counter()
        response = super().handle_request(request)
        body = response.read()
        spent = time.perf_counter() - t0
        s, c = self.clock.seconds, self.clock.calls
        s["http"] = s.get("http", 0.0) + spent
        c["http"] = c.get("http", 0) + 1
        if request.method == "POST" or request.url.path.endswith("/objects/"):
            key = "http_post" if request.method == "POST" else "http_get"
            s[key] = s.get(key, 0.0) + spent
            c[key] = c.get(key, 0) + 1
        self.sent += len(request.content)
        self.received += len(body)
        return response


class _TimedOrjson:
    """Stands for the ``orjson`` module inside federation/push.py: ``loads`` is timed."""

    def __init__(self, clock: Clock) -> None:
        self.loads = clock.wrap("rows_json", orjson.loads)

    def __getattr__(self, name: str) -> Any:
        return getattr(orjson, name)


def rss_now() -> int:
    """This process's resident set size now, in bytes (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


class RssTrace:
    """RSS after every committed page (the cursor save that ends each page)."""

    def __init__(self) -> None:
        self.points: list[tuple[int, int]] = []  # (pages so far, RSS bytes)

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def traced(*args: Any, **kwargs: Any) -> Any:
            out = fn(*args, **kwargs)
            self.points.append((len(self.points) + 1, rss_now()))
            return out

        return traced


def _instrument(store: Any, clock: Clock, trace: RssTrace | None = None) -> None:
    """Timing wrappers around the parts of the hot path."""
    from tansiq.federation import pull as pull_mod
    from tansiq.federation import push as push_mod
    from tansiq.federation.client import TaxiiClient
    from tansiq.federation.peers import Registry

    if trace is not None:
        Registry.save_cursor = trace.wrap(Registry.save_cursor)  # type: ignore[method-assign]

    pull_mod.prepare = clock.wrap("validate", pull_mod.prepare)
    push_mod.orjson = _TimedOrjson(clock)  # type: ignore[assignment]
    store.write_versions = clock.wrap("write", store.write_versions)
    store.query = clock.wrap("query", store.query)
    store.put_state = clock.wrap("state", store.put_state)
    store.get_state = clock.wrap("state", store.get_state)
    store.append_audit = clock.wrap("state", store.append_audit)
    store.try_lease = clock.wrap("state", store.try_lease)
    store.release_lease = clock.wrap("state", store.release_lease)
    TaxiiClient.get_objects = clock.wrap("client_get", TaxiiClient.get_objects)  # type: ignore[method-assign]
    TaxiiClient.add_objects = clock.wrap("client_post", TaxiiClient.add_objects)  # type: ignore[method-assign]


def _cpu() -> float:
    return time.process_time()


def _open(database: str) -> tuple[Any, Any]:
    from tansiq.federation.peers import Registry
    from tansiq.federation.secrets import SecretBox, key_path
    from tansiq.storage import open_store

    store = open_store(database, create=False)
    return store, Registry(store, SecretBox(key_path(database)))


def _breakdown(clock: Clock, total: float) -> dict[str, float]:
    """Disjoint parts of ``total`` seconds: the HTTP exchange is inside the client calls."""
    s = clock.seconds
    http = s.get("http", 0.0)
    parts = {
        "http": http,
        "client_parse": max(0.0, s.get("client_get", 0.0) - s.get("http_get", 0.0)),
        "client_envelope": max(0.0, s.get("client_post", 0.0) - s.get("http_post", 0.0)),
        "validate": s.get("validate", 0.0),
        "write": s.get("write", 0.0),
        "query": s.get("query", 0.0),
        "rows_json": s.get("rows_json", 0.0),
        "state": s.get("state", 0.0),
    }
    parts["other"] = max(0.0, total - sum(parts.values()))
    return {k: round(v, 4) for k, v in parts.items()}


def _factory(clock: Clock, transports: list[TimedTransport]) -> Callable[[Any, Any], Any]:
    from tansiq.federation.client import TaxiiClient

    def factory(peer: Any, credentials: Any) -> TaxiiClient:
        transport = TimedTransport(clock)
        transports.append(transport)
        return TaxiiClient(peer.url, credentials, api_root=peer.api_root, transport=transport)

    return factory


class Syncer:
    """One scheduler for the whole process (as ``tansiq serve`` keeps one), each
    ``once`` a timed ``Scheduler.run_once([peer])``: what ``tansiq sync PEER --once`` runs."""

    def __init__(self, store: Any, registry: Any, clock: Clock) -> None:
        from tansiq.federation.sync import Scheduler

        self.clock = clock
        self.transports: list[TimedTransport] = []
        self.scheduler = Scheduler(store, registry, client_factory=_factory(clock, self.transports))

    def once(self, peer: str) -> dict[str, Any]:
        clock = self.clock
        clock.reset()
        self.transports.clear()
        cpu0 = _cpu()
        t0 = time.perf_counter()
        (report,) = self.scheduler.run_once([peer])
        seconds = time.perf_counter() - t0
        cpu = _cpu() - cpu0
        if not report.ok:
            raise SystemExit(f"sync of peer {peer} failed: {'; '.join(report.errors)}")
        return {
            "seconds": seconds,
            "cpu_seconds": round(cpu, 4),
            "objects": sum(m.objects for m in report.mappings),
            "report": report.as_dict(),
            "requests": clock.calls.get("http", 0),
            "bytes_sent": sum(t.sent for t in self.transports),
            "bytes_received": sum(t.received for t in self.transports),
            "breakdown": _breakdown(clock, seconds),
            "timers": clock.snapshot(),
        }

    def close(self) -> None:
        self.scheduler.close()


def run_sync(database: str, peer: str) -> None:
    store, registry = _open(database)
    clock = Clock()
    trace = RssTrace()
    rss_before = rss_now()
    _instrument(store, clock, trace)
    syncer = Syncer(store, registry, clock)
    result = syncer.once(peer)
    syncer.close()
    store.close()
    points = trace.points
    step = max(1, len(points) // 20)  # about 20 points along the sync
    result["rss_before"] = rss_before
    result["rss_trace"] = points[step - 1 :: step] + ([points[-1]] if len(points) % step else [])
    _emit(result)


# --------------------------------------------------------------------------- incremental


def _last_position(database: str, collection_id: str) -> tuple[str, int]:
    """(date_added, seq) of the last version of a collection (read-only SQL)."""
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        row = con.execute(
            "SELECT date_added, seq FROM objects WHERE collection_id = ? "
            "ORDER BY date_added DESC, seq DESC LIMIT 1",
            (collection_id,),
        ).fetchone()
    finally:
        con.close()
    if row is None:
        raise SystemExit(f"collection {collection_id} of {database} is empty")
    return str(row[0]), int(row[1])


def new_objects(tag: str, round_no: int, count: int) -> list[dict[str, Any]]:
    """``count`` new indicators (fresh ids), TLP:CLEAR, GREEN and AMBER in turn."""
    from tansiq.stix.markings import TLP2_BY_NAME

    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    out = []
    for i in range(count):
        oid = uuid.uuid5(uuid.NAMESPACE_URL, f"tansiq-bench/{tag}/{round_no}/{i}")
        tlp = TLP_CYCLE[i % len(TLP_CYCLE)]
        out.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--{oid}",
                "created": stamp,
                "modified": stamp,
                "name": f"bench {tag} round {round_no} #{i}",
                "indicator_types": ["malicious-activity"],
                "pattern": f"[ipv4-addr:value = '198.51.{round_no % 256}.{i % 256}']",
                "pattern_type": "stix",
                "valid_from": stamp,
                "object_marking_refs": [TLP2_BY_NAME[f"TLP:{tlp.upper()}"]],
            }
        )
    return out


def run_incremental(
    database: str,
    peer_name: str,
    source_db: str,
    source_collection: str,
    user: str,
    rounds: str,
    batch: str,
    tag: str,
) -> None:
    from tansiq.access import admin
    from tansiq.ingest.bundle import write_objects
    from tansiq.storage import open_store

    store, registry = _open(database)
    same = source_db == database
    source = store if same else open_store(source_db, create=False)
    coll = admin.require_collection(source, source_collection)
    principal = admin.principal(source, user)
    peer = registry.get(peer_name)
    if len(peer.mappings) != 1:
        raise SystemExit(f"peer {peer_name} must have exactly one mapping")
    mapping = peer.mappings[0]
    date_added, seq = _last_position(source_db, coll.id)
    cursor = registry.cursor(peer, mapping)
    if mapping.direction == "pull":  # as left by a sync that reached the end
        cursor.update(added_after=date_added, caught_up=date_added)
    else:
        cursor.update(after=[date_added, seq], caught_up=date_added)
    registry.save_cursor(peer, mapping, cursor)

    clock = Clock()
    _instrument(store, clock)
    syncer = Syncer(store, registry, clock)
    out: list[dict[str, Any]] = []
    for r in range(int(rounds)):
        objs = new_objects(tag, r, int(batch))
        results = write_objects(source, coll.id, principal, objs)
        bad = [x for x in results if x.outcome != "added"]
        if bad:
            raise SystemExit(f"writing the new objects failed: {bad[:3]}")
        one = syncer.once(peer_name)
        m = one["report"]["mappings"][0]
        if m["added"] != int(batch):
            raise SystemExit(f"round {r}: expected {batch} objects added, report: {m}")
        out.append(one)
    syncer.close()
    if not same:
        source.close()
    store.close()
    _emit({"rounds": out, "cursor_start": [date_added, seq]})


# --------------------------------------------------------------------------- floor


def run_floor(objects_url: str, token: str, limit: str) -> None:
    headers = {"Accept": TAXII_21, "Authorization": f"Bearer {token}"}
    pages = objects = received = 0
    parse = 0.0
    cpu0 = _cpu()
    t0 = time.perf_counter()
    with httpx.Client(headers=headers, timeout=60.0) as http:
        params: dict[str, str] = {"limit": limit, "match[version]": "all"}
        while True:
            response = http.get(objects_url, params=params)
            response.raise_for_status()
            body = response.content
            p0 = time.perf_counter()
            data = orjson.loads(body)
            parse += time.perf_counter() - p0
            pages += 1
            objects += len(data.get("objects", []))
            received += len(body)
            if not data.get("more") or not data.get("next"):
                break
            params = {"limit": limit, "match[version]": "all", "next": str(data["next"])}
    seconds = time.perf_counter() - t0
    _emit(
        {
            "seconds": seconds,
            "cpu_seconds": round(_cpu() - cpu0, 4),
            "parse_seconds": round(parse, 4),
            "pages": pages,
            "objects": objects,
            "bytes_received": received,
        }
    )


COMMANDS: dict[str, tuple[Callable[..., None], int]] = {
    "sync": (run_sync, 2),
    "incremental": (run_incremental, 8),
    "floor": (run_floor, 3),
}


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in COMMANDS or len(argv) - 1 != COMMANDS[argv[0]][1]:
        sys.exit(__doc__)
    fn, _ = COMMANDS[argv[0]]
    fn(*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
