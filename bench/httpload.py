"""A small HTTP/1.1 load client: raw sockets, keep-alive, bounded in count and time.

It only ever talks to 127.0.0.1. A raw-socket client costs the benchmark far less CPU per
request than httpx (which matters on a 2-core machine where the client shares the CPU with
the server), and it is the same client for every server measured.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

HOST = "127.0.0.1"


class HTTPError(RuntimeError):
    pass


class Connection:
    """One keep-alive connection; ``get`` returns (status, headers, body)."""

    def __init__(self, port: int, headers: dict[str, str], timeout: float = 600.0) -> None:
        self.port = port
        self.timeout = timeout
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._head = f"Host: {HOST}:{port}\r\n{extra}\r\n".encode()
        self.sock: socket.socket | None = None
        self.buf = bytearray()
        self.reconnects = -1

    def _connect(self) -> socket.socket:
        s = socket.create_connection((HOST, self.port), timeout=self.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = s
        self.buf.clear()
        self.reconnects += 1
        return s

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _read_until(self, marker: bytes) -> bytes:
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[: i + len(marker)]
                return out
            self._fill()

    def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        request = b"GET " + path.encode() + b" HTTP/1.1\r\n" + self._head
        for attempt in (0, 1):
            sock = self.sock or self._connect()
            try:
                sock.sendall(request)
                return self._response()
            except (ConnectionError, BrokenPipeError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _response(self) -> tuple[int, dict[str, str], bytes]:
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            body = self._read_exact(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._read_until(b"\r\n")  # no trailers expected
                    break
                parts.append(self._read_exact(size))
                self._read_exact(2)
            body = b"".join(parts)
        else:  # body until close
            try:
                while True:
                    self._fill()
            except ConnectionError:
                pass
            body = bytes(self.buf)
            self.buf.clear()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


@dataclass
class LatencyStats:
    count: int
    seconds: float
    latencies: list[float] = field(repr=False)  # seconds, sorted
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    body_bytes: int = 0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000

    @property
    def rps(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("nan")

    def summary(self) -> dict[str, float]:
        return {
            "requests": self.count,
            "seconds": round(self.seconds, 3),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "rps": round(self.rps, 1),
            "errors": self.errors,
            "mean_body_bytes": round(self.body_bytes / self.count) if self.count else 0,
        }


def _check(status: int, body: bytes, path: str) -> None:
    if status != 200:
        raise HTTPError(f"GET {path} -> HTTP {status}: {body[:300]!r}")


def sequential(
    port: int,
    headers: dict[str, str],
    paths: Sequence[str],
    *,
    max_requests: int,
    max_seconds: float,
    warmup: int = 20,
) -> LatencyStats:
    """One connection, one request at a time, cycling through ``paths``."""
    conn = Connection(port, headers)
    try:
        for i in range(min(warmup, max_requests)):
            s, _, b = conn.get(paths[i % len(paths)])
            _check(s, b, paths[i % len(paths)])
        lat: list[float] = []
        nbytes = 0
        t0 = time.perf_counter()
        deadline = t0 + max_seconds
        clock = time.perf_counter
        i = 0
        while i < max_requests:
            path = paths[i % len(paths)]
            a = clock()
            status, _, body = conn.get(path)
            b = clock()
            _check(status, body, path)
            lat.append(b - a)
            nbytes += len(body)
            i += 1
            if b > deadline:
                break
        elapsed = clock() - t0
    finally:
        conn.close()
    lat.sort()
    return LatencyStats(len(lat), elapsed, lat, body_bytes=nbytes)


def concurrent(
    port: int,
    headers: dict[str, str],
    paths: Sequence[str],
    *,
    connections: int,
    seconds: float,
    max_requests: int = 1_000_000,
    conns: Sequence[Connection] | None = None,
) -> LatencyStats:
    """``connections`` keep-alive connections in threads, each looping until the deadline.

    ``conns``: connections the caller opened (and warmed) itself, e.g. spread over a
    server's workers; they are used as they are and closed at the end."""
    if conns is not None:
        connections = len(conns)
    lat_all: list[list[float]] = [[] for _ in range(connections)]
    nbytes = [0] * connections
    errors = [0] * connections
    failure: list[BaseException] = []
    start = threading.Barrier(connections + 1)
    per_conn = max(1, max_requests // connections)
    ends = [0.0] * connections

    def worker(w: int) -> None:
        conn = conns[w] if conns is not None else Connection(port, headers)
        try:
            for k in range(3 if conns is None else 0):  # warm the connection
                conn.get(paths[(w + k) % len(paths)])
            start.wait()
            deadline = time.perf_counter() + seconds
            clock = time.perf_counter
            lat = lat_all[w]
            i = w
            n = 0
            while n < per_conn:
                path = paths[i % len(paths)]
                a = clock()
                status, _, body = conn.get(path)
                b = clock()
                if status != 200:
                    errors[w] += 1
                lat.append(b - a)
                nbytes[w] += len(body)
                i += connections
                n += 1
                if b > deadline:
                    break
            ends[w] = clock()
        except BaseException as exc:  # surfaced to the caller below
            failure.append(exc)
            with contextlib.suppress(threading.BrokenBarrierError):
                start.abort()
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(connections)]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    if failure:
        raise failure[0]
    elapsed = max(ends) - t0
    lat = sorted(x for part in lat_all for x in part)
    return LatencyStats(len(lat), elapsed, lat, errors=sum(errors), body_bytes=sum(nbytes))
