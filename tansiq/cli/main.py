"""Entry point of the ``tansiq`` command."""

from __future__ import annotations

import sqlite3
import sys

import click

from tansiq import __version__
from tansiq.cli import access, admin, data, db, peer, serve
from tansiq.cli.common import Context


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database",
    envvar="TANSIQ_DATABASE",
    default=None,
    help="SQLite file path or postgresql:// URL (default ./tansiq.db; env TANSIQ_DATABASE).",
)
@click.version_option(__version__, prog_name="tansiq")
@click.pass_context
def cli(ctx: click.Context, database: str | None) -> None:
    """Tansiq: STIX 2.1 knowledge store and TAXII 2.1 server for partner agencies."""
    ctx.obj = Context(database)
    ctx.call_on_close(ctx.obj.close)


admin.register(cli)
access.register(cli, admin.user)
data.register(cli)
db.register(cli)
serve.register(cli)
peer.register(cli)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except sqlite3.DatabaseError as exc:  # a file that is not a database, a locked disk...
        click.echo(f"error: database error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - PostgreSQL errors, without a traceback
        import psycopg

        if not isinstance(exc, psycopg.Error):
            raise
        click.echo(f"error: database error: {' '.join(str(exc).split())}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
