"""Server time in the one fixed-width timestamp format Tansiq stores and serves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_text(dt: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, microseconds): sorts as text."""
    return dt.astimezone(UTC).strftime(FORMAT)


def now_text() -> str:
    return to_text(utc_now())


def from_text(text: str) -> datetime:
    return datetime.strptime(text, FORMAT).replace(tzinfo=UTC)


def after(text: str, microseconds: int = 1) -> str:
    return to_text(from_text(text) + timedelta(microseconds=microseconds))


class MonotonicClock:
    """Hands out strictly increasing timestamps, never behind the wall clock."""

    def __init__(self, last: str | None = None) -> None:
        self._last = from_text(last) if last else None

    def observe(self, last: str | None) -> None:
        if last:
            dt = from_text(last)
            if self._last is None or dt > self._last:
                self._last = dt

    def next_block(self, count: int) -> list[str]:
        """``count`` strictly increasing timestamps after everything handed out so far."""
        start = utc_now()
        if self._last is not None and start <= self._last:
            start = self._last + timedelta(microseconds=1)
        step = timedelta(microseconds=1)
        out = [to_text(start + step * i) for i in range(count)]
        self._last = start + step * (count - 1) if count else self._last
        return out
