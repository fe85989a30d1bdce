"""Database commands: copy a whole instance between backends; back up a SQLite database
while it is in use."""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from tansiq.cli.common import Context, emit, friendly, json_option, pass_ctx
from tansiq.errors import ConfigurationError, InvalidInput
from tansiq.storage import display_url, open_store
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
        {"from": display_url(source_url), "to": display_url(target_url), "rows": counts},
        f"copied {sum(counts.values()):,} rows ({counts.get('objects', 0):,} object versions, "
        f"{counts.get('audit', 0):,} audit entries) from {display_url(source_url)} to "
        f"{display_url(target_url)}",
    )


# --------------------------------------------------------------------------- backup


@dataclass(frozen=True)
class BackupInfo:
    path: str
    bytes: int
    objects: int
    audit: int


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def sqlite_backup(source: str, target: Path) -> BackupInfo:
    """Copy the SQLite database ``source`` to the new file ``target``, safely while other
    processes read and write it.

    SQLite's online backup API copies every page in one step, that is inside one read
    transaction: the copy is one consistent snapshot, and in WAL mode writers go on
    meanwhile. The copy is written next to the target and renamed into place only once
    complete and checked, in rollback-journal mode (one self-contained file) and readable
    by its owner only (it holds token hashes and the instance secret).
    """
    if target.exists():
        raise InvalidInput(f"{target} already exists; a backup never overwrites a file")
    if not target.parent.is_dir():
        raise InvalidInput(f"directory {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    try:
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise InvalidInput(f"cannot write in {target.parent}: {exc.strerror}") from None
    try:
        src = sqlite3.connect(source, timeout=30.0)
        try:
            src.execute("PRAGMA busy_timeout=30000")
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst, pages=-1)  # every page in one step: one snapshot
                dst.execute("PRAGMA journal_mode=DELETE")
                check = dst.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise ConfigurationError(f"the backup copy failed its check: {check}")
                objects = int(dst.execute("SELECT count(*) FROM objects").fetchone()[0])
                audit = int(dst.execute("SELECT count(*) FROM audit").fetchone()[0])
            finally:
                dst.close()
        finally:
            src.close()
        if target.exists():  # created meanwhile by someone else: keep theirs
            raise InvalidInput(f"{target} already exists; a backup never overwrites a file")
        os.replace(partial, target)
    finally:
        for leftover in [partial, *(Path(f"{partial}{s}") for s in ("-journal", "-wal", "-shm"))]:
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return BackupInfo(str(target), target.stat().st_size, objects, audit)


@db.command("backup")
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Backup file to write (must not exist yet).",
)
@json_option
@pass_ctx
@friendly
def db_backup(ctx: Context, target: Path, as_json: bool) -> None:
    """Back up a SQLite database to FILE, safely while it is being served.

    The copy is one consistent snapshot; readers and writers go on meanwhile. To restore,
    stop the server and put the file in place of the database (see docs/deploy.md). For
    PostgreSQL use pg_dump.
    """
    if _is_postgres(ctx.database):
        raise InvalidInput(
            "tansiq db backup copies SQLite databases; back up PostgreSQL with pg_dump "
            "(see docs/deploy.md)"
        )
    ctx.store().close()  # the database exists and is a migrated Tansiq database
    info = sqlite_backup(ctx.database, target)
    emit(
        as_json,
        {
            "from": ctx.database,
            "to": info.path,
            "bytes": info.bytes,
            "objects": info.objects,
            "audit": info.audit,
        },
        f"backed up {ctx.database} to {info.path} ({info.bytes:,} bytes, "
        f"{info.objects:,} object versions, {info.audit:,} audit entries)",
    )


def register(cli: click.Group) -> None:
    cli.add_command(db)
