"""Storage: the Store protocol, its value objects and the backends."""

from __future__ import annotations

import os
from pathlib import Path

from tansiq.errors import ConfigurationError
from tansiq.storage.base import Store

DEFAULT_DATABASE = "tansiq.db"


def database_url(explicit: str | None = None) -> str:
    """The database named by ``--database``, else TANSIQ_DATABASE, else ./tansiq.db."""
    return explicit or os.environ.get("TANSIQ_DATABASE") or DEFAULT_DATABASE


def display_url(url: str) -> str:
    """``url`` safe to print or log: a PostgreSQL password is replaced by ``***``."""
    if not url.startswith(("postgresql://", "postgres://")):
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def open_store(url: str | None = None, *, create: bool = True) -> Store:
    """Open the store a URL or file path names (a file path means SQLite)."""
    target = database_url(url)
    if target.startswith(("postgresql://", "postgres://")):
        from tansiq.storage.postgres import PostgresStore

        return PostgresStore(target)  # the database must exist; 'tansiq init' migrates it
    from tansiq.storage.sqlite import SQLiteStore

    if target != ":memory:" and not create and not Path(target).exists():
        raise ConfigurationError(f"database {target} does not exist; run 'tansiq init' first")
    return SQLiteStore(target, create=create)


__all__ = ["DEFAULT_DATABASE", "Store", "database_url", "display_url", "open_store"]
