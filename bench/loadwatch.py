"""The machine's load while a benchmark runs (other work on the 2 cores skews numbers)."""

from __future__ import annotations

import os
import subprocess
import threading
from typing import Any


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


class LoadWatch:
    """Samples the 1-minute load average from construction until :meth:`stop`."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self.uptime_start = uptime()
        self.start = os.getloadavg()[0]
        self.max = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.max = max(self.max, os.getloadavg()[0])

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        end = os.getloadavg()[0]
        return {
            "start": self.start,
            "max": max(self.max, end),
            "end": end,
            "interval": self.interval,
            "uptime_start": self.uptime_start,
            "uptime_end": uptime(),
        }
