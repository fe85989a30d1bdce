"""Child processes with exact peak RSS, and servers that the benchmark starts and stops.

Peak RSS comes from ``os.wait4``: the kernel's ``ru_maxrss`` of that one child (its high
water mark over its whole life), not from sampling, so short spikes are not missed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss: int  # bytes

    def json(self) -> dict:
        """The last line of stdout parsed as JSON (the workers' result protocol)."""
        lines = [ln for ln in self.stdout.splitlines() if ln.strip()]
        if self.returncode != 0 or not lines:
            raise RuntimeError(
                f"worker failed (exit {self.returncode}):\n{self.stderr[-4000:]}\n{self.stdout[-2000:]}"
            )
        return orjson.loads(lines[-1])


def _wait4(proc: subprocess.Popen, timeout: float | None) -> tuple[int, int]:
    """Reap ``proc`` ourselves (so that its rusage is ours); returns (returncode, maxrss bytes)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            code = os.waitstatus_to_exitcode(status)
            proc.returncode = code
            return code, usage.ru_maxrss * 1024  # Linux reports KiB
        if deadline is not None and time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout or 0)
        time.sleep(0.02)


def _drain(stream, sink: list[bytes]) -> threading.Thread:  # type: ignore[no-untyped-def]
    def run() -> None:
        for chunk in iter(lambda: stream.read(65536), b""):
            sink.append(chunk)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def run(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = 1800,
    stdin: bytes | None = None,
) -> Finished:
    """Run a command to completion; capture output, wall time and peak RSS."""
    full_env = {**os.environ, **(env or {})}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd or ROOT,
        env=full_env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out: list[bytes] = []
    err: list[bytes] = []
    threads = [_drain(proc.stdout, out), _drain(proc.stderr, err)]
    if stdin is not None and proc.stdin is not None:
        proc.stdin.write(stdin)
        proc.stdin.close()
    try:
        code, rss = _wait4(proc, timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _wait4(proc, 30)
        raise
    seconds = time.perf_counter() - t0
    for t in threads:
        t.join(5)
    return Finished(
        code,
        b"".join(out).decode(errors="replace"),
        b"".join(err).decode(errors="replace"),
        seconds,
        rss,
    )


def python_module(module: str, *args: str, python: str | None = None) -> list[str]:
    return [python or sys.executable, "-m", module, *args]


def tansiq_command(*args: str) -> list[str]:
    """The ``tansiq`` console script of this interpreter, else the same entry point via -c."""
    exe = Path(sys.executable).parent / "tansiq"
    if exe.exists():
        return [str(exe), *args]
    found = shutil.which("tansiq")
    if found and Path(found).resolve().parent == Path(sys.executable).resolve().parent:
        return [found, *args]
    if (ROOT / "tansiq" / "__main__.py").exists():
        return [sys.executable, "-m", "tansiq", *args]
    return [
        sys.executable,
        "-c",
        "import sys; sys.argv[0] = 'tansiq'; from tansiq.cli.main import main; main()",
        *args,
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A server process on 127.0.0.1:port; ``stop()`` returns its peak RSS in bytes."""

    def __init__(
        self,
        name: str,
        cmd: Sequence[str],
        port: int,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        log_dir: Path,
    ) -> None:
        self.name = name
        self.cmd = list(cmd)
        self.port = port
        self.log_path = log_dir / f"{name}.log"
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=cwd or ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends it and its workers
        )
        self.peak_rss: int | None = None

    def wait_ready(self, timeout: float = 120.0, path: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited early (code {self.proc.returncode}); log:\n{self.log_tail()}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"{self.name} did not listen on port {self.port} within {timeout:.0f}s; log:\n{self.log_tail()}"
        )

    def log_tail(self, n: int = 3000) -> str:
        self._log.flush()
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def rss_now(self) -> int:
        """Current RSS of the process tree (for progress messages)."""
        try:
            import psutil

            p = psutil.Process(self.proc.pid)
            return sum(q.memory_info().rss for q in [p, *p.children(recursive=True)])
        except Exception:
            return 0

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the process tree (Linux /proc)."""
        try:
            import psutil

            p = psutil.Process(self.proc.pid)
            total = 0.0
            for q in [p, *p.children(recursive=True)]:
                t = q.cpu_times()
                total += t.user + t.system
            return total
        except Exception:
            return 0.0

    def stop(self) -> int:
        if self.peak_rss is not None:
            return self.peak_rss
        children_peak = 0
        with contextlib.suppress(Exception):  # worker processes (gunicorn, uvicorn --workers)
            import psutil

            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(Exception), open(f"/proc/{child.pid}/status") as fh:
                    for line in fh:
                        if line.startswith("VmHWM:"):
                            children_peak = max(children_peak, int(line.split()[1]) * 1024)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            _, rss = _wait4(self.proc, 15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            _, rss = _wait4(self.proc, 15)
        with contextlib.suppress(ProcessLookupError):  # stragglers of the group
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()
        self.peak_rss = max(rss, children_peak)
        return self.peak_rss

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def server(
    name: str,
    cmd: Sequence[str],
    port: int,
    *,
    log_dir: Path,
    env: dict[str, str] | None = None,
    ready_timeout: float = 120.0,
) -> Iterator[Server]:
    s = Server(name, cmd, port, env=env, log_dir=log_dir)
    try:
        s.wait_ready(ready_timeout)
        yield s
    finally:
        s.stop()
