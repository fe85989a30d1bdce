"""Database commands: copy a whole instance between backends."""

from __future__ import annotations

import sys

import click

from tansiq.cli.common import Context, emit, friendly, json_option, pass_ctx
from tansiq.storage import open_store
from tansiq.storage.copy import copy_instance


@click.group()
def db() -> None:
    """Database operations."""


@db.command("copy")
@click.option(
    "--from", "source_url", required=True, help="Source database (file path or postgresql:// URL)."
)
@click.option("--to", "target_url", required=True, help="Target database (must be new or empty).")
@json_option
@pass_ctx
@friendly
def db_copy(ctx: Context, source_url: str, target_url: str, as_json: bool) -> None:
    """Copy a whole instance (objects, versions, users, tokens, grants, audit) to another database."""
    source = open_store(source_url, create=False)
    source.check_ready()
    target = open_store(target_url, create=True)
    show = sys.stderr.isatty() and not as_json
    try:
        counts = copy_instance(
            source,
            target,
            progress=(lambda table, n: click.echo(f"\r{table}: {n:,} rows", err=True, nl=False))
            if show
            else None,
        )
    finally:
        source.close()
        target.close()
    if show:
        click.echo("", err=True)
    emit(
        as_json,
        {"from": source_url, "to": target_url, "rows": counts},
        f"copied {sum(counts.values()):,} rows ({counts.get('objects', 0):,} object versions, "
        f"{counts.get('audit', 0):,} audit entries) from {source_url} to {target_url}",
    )


def register(cli: click.Group) -> None:
    cli.add_command(db)
