"""Data commands: import and export."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tansiq.access import admin as lib
from tansiq.cli.common import Context, emit, fail, friendly, json_option, pass_ctx
from tansiq.errors import InvalidInput, PermissionDenied
from tansiq.export.bundle import write_bundle
from tansiq.ingest.bundle import ImportReport, import_file


@click.command("import")
@click.argument("files", nargs=-1, required=True)
@click.option("--collection", "collection_ref", required=True, help="Collection id or alias.")
@click.option("--user", "user_name", required=True, help="User on whose behalf to write.")
@click.option("--api-root", default=None, help="API root of the collection (when aliases clash).")
@json_option
@pass_ctx
@friendly
def import_cmd(
    ctx: Context,
    files: tuple[str, ...],
    collection_ref: str,
    user_name: str,
    api_root: str | None,
    as_json: bool,
) -> None:
    """Import STIX files (bundles or objects, STIX 2.0 or 2.1) into a collection."""
    from tansiq.access.permissions import can_write

    store = ctx.store()
    coll = lib.require_collection(store, collection_ref, api_root)
    principal = lib.principal(store, user_name)
    if not can_write(principal, coll):
        raise PermissionDenied(f"user '{user_name}' may not write to collection '{collection_ref}'")
    paths = [Path(f) for f in files]
    for p in paths:  # refuse before writing anything when a file is missing
        if not p.exists():
            raise InvalidInput(f"{p}: no such file")
        if p.is_dir():
            raise InvalidInput(f"{p}: is a directory, not a JSON file")
    report = ImportReport()
    show_progress = sys.stderr.isatty() and not as_json
    errors: list[str] = []
    for path in paths:
        try:
            if show_progress:
                _import_with_progress(store, coll.id, principal, path, report)
            else:
                import_file(store, coll.id, principal, path, report=report)
        except InvalidInput as exc:
            errors.append(str(exc))
    summary = (
        f"imported {report.total} objects into '{coll.title}': {report.added} added, "
        f"{report.unchanged} unchanged, {report.conflicts} conflicts, {report.invalid} invalid"
    )
    data = report.as_dict() | {"collection": coll.id, "file_errors": errors}
    if as_json:
        emit(True, data, "")
    else:
        click.echo(summary)
        for f in report.failures[:20]:
            click.echo(f"  rejected: {f.message}", err=True)
    if errors:
        fail(errors[0] + (f" (and {len(errors) - 1} more file errors)" if len(errors) > 1 else ""))
    if report.invalid or report.conflicts:
        first = report.failures[0].message if report.failures else ""
        fail(
            f"{report.invalid + report.conflicts} of {report.total} objects rejected "
            f"(valid ones were stored); first: {first}"
        )


def _import_with_progress(store, coll_id, principal, path: Path, report: ImportReport) -> None:  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} objects"),
        TimeElapsedColumn(),
        transient=False,
    ) as progress:
        task = progress.add_task(path.name, total=None)
        import_file(
            store,
            coll_id,
            principal,
            path,
            report=report,
            progress=lambda done, _total: progress.update(task, completed=done),
        )


@click.command("export")
@click.option("--collection", "collection_ref", required=True, help="Collection id or alias.")
@click.option("--api-root", default=None)
@click.option("--out", "out_path", default=None, help="Output file (default: standard output).")
@pass_ctx
@friendly
def export_cmd(ctx: Context, collection_ref: str, api_root: str | None, out_path: str | None) -> None:
    """Export every version of a collection as one STIX 2.1 bundle."""
    store = ctx.store()
    coll = lib.require_collection(store, collection_ref, api_root)
    if out_path is None:
        count = write_bundle(store, coll.id, sys.stdout.buffer)
        sys.stdout.flush()
    else:
        try:
            with open(out_path, "wb") as fh:
                count = write_bundle(store, coll.id, fh)
        except OSError as exc:
            raise InvalidInput(f"{out_path}: cannot write ({exc.strerror})") from exc
        click.echo(f"exported {count} object versions to {out_path}", err=True)


def register(cli: click.Group) -> None:
    cli.add_command(import_cmd)
    cli.add_command(export_cmd)
