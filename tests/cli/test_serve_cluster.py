"""Several ``tansiq serve`` processes on one PostgreSQL database: writers posting through
both, readers paging with added_after and next across both, no error, every version
read exactly once; and ``serve --workers 2`` on PostgreSQL."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.deploy.support import TAXII, Serve, indicator, serving, tansiq
from tests.storage import pg_support

pytestmark = pytest.mark.skipif(
    pg_support.unavailable() is not None, reason=pg_support.unavailable() or ""
)

WRITERS_PER_SERVER = 2
ENVELOPES = 25  # per writer
PER_ENVELOPE = 6  # versions per envelope: 2 writers x 2 servers x 25 x 6 = 600 versions
PAGE = 17


@dataclass
class Instance:
    url: str
    writer_token: str
    reader_token: str
    collection: str


@pytest.fixture
def instance() -> Iterator[Instance]:
    with pg_support.database() as url:
        tansiq("init", database=url)  # as on a new database (a recycled one has no secret)
        tansiq("org", "add", "CERT Alpha", database=url)
        alice = tansiq(
            "user",
            "add",
            "alice",
            "--org",
            "CERT Alpha",
            "--role",
            "analyst",
            "--json",
            database=url,
        )
        rita = tansiq(
            "user", "add", "rita", "--org", "CERT Alpha", "--role", "reader", "--json", database=url
        )
        coll = tansiq(
            "collection",
            "add",
            "Shared",
            "--alias",
            "shared",
            "--read",
            "CERT Alpha",
            "--write",
            "CERT Alpha",
            "--json",
            database=url,
        )
        yield Instance(
            url, json.loads(alice)["token"], json.loads(rita)["token"], json.loads(coll)["id"]
        )


def client(token: str) -> httpx.Client:
    return httpx.Client(headers={"Authorization": f"Bearer {token}", "Accept": TAXII}, timeout=60)


def objects_path(inst: Instance) -> str:
    return f"/default/collections/{inst.collection}/objects/"


def test_two_servers_share_one_database_under_concurrent_writers_and_readers(
    instance: Instance, tmp_path: Path
) -> None:
    with (
        serving(instance.url, tmp_path / "a.log") as a,
        serving(instance.url, tmp_path / "b.log") as b,
    ):
        servers = [a.url, b.url]
        written: set[tuple[str, str]] = set()
        lock = threading.Lock()
        errors: list[str] = []
        writers_done = threading.Event()

        def write(server: str, w: int) -> None:
            with client(instance.writer_token) as http:
                for e in range(ENVELOPES):
                    objs = [
                        indicator(
                            f"indicator--00000000-0000-4000-8000-{w:04d}{i:08d}",
                            f"2026-01-01T00:00:{e:02d}.000Z",
                            f"writer {w} object {i}",
                        )
                        for i in range(PER_ENVELOPE)
                    ]
                    r = http.post(
                        server + objects_path(instance),
                        json={"objects": objs},
                        headers={"Content-Type": TAXII},
                    )
                    if r.status_code != 202 or r.json()["success_count"] != PER_ENVELOPE:
                        errors.append(f"POST {server}: {r.status_code} {r.text[:300]}")
                        return
                    with lock:
                        written.update((o["id"], o["modified"]) for o in objs)

        seen: dict[int, list[tuple[str, str]]] = {0: [], 1: []}
        requests_by_server: dict[int, dict[str, int]] = {0: {}, 1: {}}

        def read(r: int) -> None:
            """Page with added_after and next, each request to the other server, until the
            writers are done and a whole pass brings nothing new."""
            turn = itertools.count(r)
            cursor: str | None = None
            deadline = time.monotonic() + 240
            with client(instance.reader_token) as http:
                while time.monotonic() < deadline:
                    finished = writers_done.is_set()
                    params = {"match[version]": "all", "limit": str(PAGE)}
                    if cursor:
                        params["added_after"] = cursor
                    new = 0
                    token: str | None = None
                    while True:
                        server = servers[next(turn) % 2]
                        counts = requests_by_server[r]
                        counts[server] = counts.get(server, 0) + 1
                        page = dict(params, next=token) if token else params
                        resp = http.get(server + objects_path(instance), params=page)
                        if resp.status_code != 200:
                            errors.append(f"GET {server}: {resp.status_code} {resp.text[:300]}")
                            return
                        body = resp.json()
                        objs = body.get("objects", [])
                        seen[r].extend((o["id"], o["modified"]) for o in objs)
                        new += len(objs)
                        if objs:
                            cursor = resp.headers["X-TAXII-Date-Added-Last"]
                        if not body.get("more"):
                            break
                        token = body["next"]
                    if finished and new == 0:
                        return
                    if new == 0:
                        time.sleep(0.05)
            errors.append(f"reader {r} did not finish")

        writers = [
            threading.Thread(target=write, args=(servers[s], s * WRITERS_PER_SERVER + k))
            for s in range(2)
            for k in range(WRITERS_PER_SERVER)
        ]
        readers = [threading.Thread(target=read, args=(r,)) for r in range(2)]
        for t in readers + writers:
            t.start()
        for t in writers:
            t.join(timeout=240)
        writers_done.set()
        for t in readers:
            t.join(timeout=300)
        assert not errors, errors[:5]
        assert len(written) == 2 * WRITERS_PER_SERVER * ENVELOPES * PER_ENVELOPE
        for r in (0, 1):
            assert len(seen[r]) == len(set(seen[r])), f"reader {r} read a version twice"
            assert set(seen[r]) == written, f"reader {r} missed {len(written - set(seen[r]))}"
            assert set(requests_by_server[r]) == set(servers)
        # and a fresh full read through either server gives the same, complete, set
        for server in servers:
            assert full_read(server, instance) == written
    assert "audit log intact" in tansiq("audit", "verify", database=instance.url)


def full_read(server: str, inst: Instance) -> set[tuple[str, str]]:
    got: list[tuple[str, str]] = []
    params: dict[str, str] = {"match[version]": "all", "limit": "250"}
    with client(inst.reader_token) as http:
        while True:
            resp = http.get(server + objects_path(inst), params=params)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            got.extend((o["id"], o["modified"]) for o in body.get("objects", []))
            if not body.get("more"):
                break
            params["next"] = body["next"]
    assert len(got) == len(set(got))
    return set(got)


def test_serve_with_two_workers_on_postgresql(instance: Instance, tmp_path: Path) -> None:
    server = Serve(instance.url, tmp_path / "serve.log", workers=2)
    try:
        server.wait_ready()
        errors: list[str] = []
        written = [
            {
                (f"indicator--00000000-0000-4000-8000-{w:012d}", f"2026-01-01T00:00:{e:02d}.000Z")
                for e in range(10)
            }
            for w in range(4)
        ]

        def work(w: int) -> None:
            # a new connection per request: the kernel spreads them over both workers
            for object_id, version in sorted(written[w]):
                with client(instance.writer_token) as http:
                    r = http.post(
                        server.url + objects_path(instance),
                        json={"objects": [indicator(object_id, version, f"object {w}")]},
                        headers={"Content-Type": TAXII},
                    )
                    if r.status_code != 202 or r.json()["success_count"] != 1:
                        errors.append(f"{r.status_code} {r.text[:300]}")
                with client(instance.reader_token) as http:
                    r = http.get(server.url + f"/default/collections/{instance.collection}/")
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:300]}")

        threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
        assert not errors, errors[:5]
        assert full_read(server.url, instance) == set().union(*written)
        log = server.log.read_text()
        assert log.count("Started server process") == 2, log
    finally:
        server.stop()


def test_workers_answer_keep_alive_requests_without_delay(
    instance: Instance, tmp_path: Path
) -> None:
    """With --workers N the shared socket is made with IPPROTO_TCP, so the workers set
    TCP_NODELAY: a page answered in two writes does not wait ~40 ms for the client's
    delayed ACK on a keep-alive connection (uvicorn issue #3149)."""
    server = Serve(instance.url, tmp_path / "serve.log", workers=2)
    try:
        server.wait_ready()
        objects = [
            indicator(
                f"indicator--00000000-0000-4000-8000-{n:012d}", "2026-01-01T00:00:00.000Z", "x"
            )
            for n in range(150)
        ]
        with client(instance.writer_token) as http:
            r = http.post(
                server.url + objects_path(instance),
                json={"objects": objects},
                headers={"Content-Type": TAXII},
            )
            assert r.status_code == 202 and r.json()["success_count"] == 150
        times = []
        with client(instance.reader_token) as http:  # one keep-alive connection
            for _ in range(25):
                start = time.perf_counter()
                r = http.get(server.url + objects_path(instance), params={"limit": "100"})
                times.append(time.perf_counter() - start)
                assert r.status_code == 200 and len(r.json()["objects"]) == 100
        times.sort()
        assert times[len(times) // 2] < 0.025, [round(t * 1000, 1) for t in times]
    finally:
        server.stop()
