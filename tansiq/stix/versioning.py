"""Which version of an object a representation is (STIX 2.1 §3.6)."""

from __future__ import annotations

from typing import Any

__all__ = ["version_of"]


def version_of(obj: dict[str, Any]) -> str | None:
    """``modified``, else ``created``, else ``None`` (SCOs: the store assigns its own)."""
    v = obj.get("modified")
    if isinstance(v, str):
        return v
    v = obj.get("created")
    if isinstance(v, str):
        return v
    return None
