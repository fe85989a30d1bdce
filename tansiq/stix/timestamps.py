"""STIX 2.1 timestamps (§2.16): ``YYYY-MM-DDTHH:MM:SS[.s+]Z``, always UTC.

Parsing is strict: upper-case ``T`` and ``Z``, no offset, a real calendar date, no leap
second (Python's ``datetime`` cannot hold second 60, and neither reference library
accepts it). Sub-second digits are unlimited on input.

Two derived forms are used across Tansiq:

* :func:`timestamp_key` — a fixed-width sortable string with exactly six fractional
  digits (extra digits truncated). The store keys versions on it.
* :func:`compare_key` — full precision, for the ``modified >= created`` style rules
  of the spec, so that a 100 ns difference still counts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

__all__ = [
    "compare_key",
    "format_timestamp",
    "is_timestamp",
    "parse_timestamp",
    "timestamp_key",
]

_TS_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?Z"
)
_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@lru_cache(maxsize=8192)
def _split(s: str) -> tuple[str, str] | None:
    """Return ``(base, fraction)`` for a valid timestamp, else ``None``.

    ``base`` is ``YYYY-MM-DDTHH:MM:SS``; ``fraction`` the sub-second digits (maybe '').
    """
    m = _TS_RE.fullmatch(s)
    if m is None:
        return None
    year = int(m.group(1))
    month = int(m.group(2))
    day = int(m.group(3))
    if year < 1 or not 1 <= month <= 12 or day < 1:
        return None
    dim = _DAYS[month]
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        dim = 29
    if day > dim:
        return None
    if int(m.group(4)) > 23 or int(m.group(5)) > 59 or int(m.group(6)) > 59:
        return None
    return s[:19], m.group(7) or ""


def is_timestamp(s: object) -> bool:
    """True when ``s`` is a string in the STIX timestamp format."""
    return isinstance(s, str) and _split(s) is not None


def fraction_digits(s: str) -> int:
    """Number of sub-second digits of a *valid* timestamp (0 when none)."""
    parts = _split(s)
    return len(parts[1]) if parts else 0


def compare_key(s: str) -> str:
    """Full-precision ordering key of a valid timestamp (raises ValueError otherwise).

    Keys of two timestamps compare (as strings) exactly as the instants do.
    """
    parts = _split(s)
    if parts is None:
        raise ValueError(f"not a STIX timestamp: {s!r}")
    return parts[0] + parts[1].rstrip("0")


def parse_timestamp(s: str) -> datetime:
    """Parse a STIX timestamp into an aware UTC ``datetime`` (microseconds truncated)."""
    parts = _split(s) if isinstance(s, str) else None
    if parts is None:
        raise ValueError(f"not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z in UTC): {s!r}")
    base, frac = parts
    return datetime(
        int(base[0:4]),
        int(base[5:7]),
        int(base[8:10]),
        int(base[11:13]),
        int(base[14:16]),
        int(base[17:19]),
        int((frac + "000000")[:6]),
        tzinfo=UTC,
    )


def timestamp_key(s: str) -> str:
    """Fixed-width sortable form ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (extra digits truncated)."""
    parts = _split(s) if isinstance(s, str) else None
    if parts is None:
        raise ValueError(f"not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z in UTC): {s!r}")
    return f"{parts[0]}.{(parts[1] + '000000')[:6]}Z"


def format_timestamp(dt: datetime) -> str:
    """Format a ``datetime`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (naive means UTC)."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
        f"{dt.second:02d}.{dt.microsecond:06d}Z"
    )
