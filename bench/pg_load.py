"""Concurrent keep-alive load spread evenly over the worker processes of one server.

With ``--workers N`` every worker accepts from one shared listening socket, and asyncio
accepts every pending connection at once: N connections opened together by one client
often all land on the worker that woke first, leaving the other idle for the whole run
(keep-alive connections never move). Many independent clients spread out on average; one
load generator with a handful of connections does not. So before a phase, the client
opens its connections, looks up which worker holds each (psutil: the server side of each
socket, by the client's local port) and reopens connections on a worker that holds more
than its share until every worker holds ``connections / N`` (± 1). The load itself is
bench/httpload.py's: each connection in its own thread, requests back to back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from bench import httpload


def owner(worker_pids: Sequence[int], local_port: int) -> int | None:
    """The worker process holding the server side of the client's socket."""
    import psutil

    for pid in worker_pids:
        with contextlib.suppress(psutil.Error):
            for c in psutil.Process(pid).net_connections(kind="tcp"):
                if c.raddr and c.raddr.port == local_port:
                    return pid
    return None


def balanced(
    port: int,
    headers: dict[str, str],
    path: str,
    connections: int,
    worker_pids: Sequence[int],
    max_attempts: int = 200,
) -> tuple[list[httpload.Connection], dict[int, int], int]:
    """``connections`` open keep-alive connections spread over ``worker_pids``; also how
    many each worker holds and how many reconnections that took."""
    share = -(-connections // max(1, len(worker_pids)))  # ceil
    conns: list[httpload.Connection] = []
    where: list[int | None] = []
    reopened = 0

    def open_one() -> tuple[httpload.Connection, int | None]:
        c = httpload.Connection(port, headers)
        status, _, body = c.get(path)  # connects, and the worker has surely accepted it
        if status != 200:
            raise httpload.HTTPError(f"GET {path} -> HTTP {status}: {body[:300]!r}")
        assert c.sock is not None
        return c, owner(worker_pids, c.sock.getsockname()[1])

    for _ in range(connections):
        c, pid = open_one()
        conns.append(c)
        where.append(pid)
    if len(worker_pids) > 1:
        for _ in range(max_attempts):
            counts = {pid: where.count(pid) for pid in worker_pids}
            over = [i for i, pid in enumerate(where) if pid is None or counts[pid] > share]
            if not over:
                break
            i = over[0]
            conns[i].close()
            conns[i], where[i] = open_one()
            reopened += 1
    counts = {pid: where.count(pid) for pid in worker_pids}
    return conns, counts, reopened


def run(
    conns: list[httpload.Connection],
    paths: Sequence[str],
    seconds: float,
) -> httpload.LatencyStats:
    """Requests back to back on every connection (one thread each) for ``seconds``."""
    return httpload.concurrent(0, {}, paths, connections=len(conns), seconds=seconds, conns=conns)
