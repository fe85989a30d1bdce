"""What every command shares: the store option, JSON output, one-line errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
import orjson

from tansiq.errors import TansiqError
from tansiq.storage import Store, database_url, open_store

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    def __init__(self, database: str | None) -> None:
        self.database = database_url(database)
        self._store: Store | None = None

    def store(self, *, create: bool = False) -> Store:
        if self._store is None:
            store = open_store(self.database, create=create)
            if not create:
                store.check_ready()
            self._store = store
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


pass_ctx = click.make_pass_decorator(Context)

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object on stdout."
)


def emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(data).decode() + "\n")
    else:
        click.echo(text)


def fail(message: str) -> None:
    raise click.exceptions.Exit(_print_error(message))


def _print_error(message: str) -> int:
    first_line = " ".join(str(message).split())
    click.echo(f"error: {first_line}", err=True)
    return 1


def friendly(fn: F) -> F:
    """Turn Tansiq errors into a one-line message and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TansiqError as exc:
            raise click.exceptions.Exit(_print_error(str(exc))) from None

    return wrapper  # type: ignore[return-value]
