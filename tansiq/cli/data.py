"""Data commands: import and export."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from tansiq.access import admin as lib
from tansiq.cli.common import Context, emit, fail, friendly, json_option, pass_ctx
from tansiq.errors import InvalidInput, PermissionDenied
from tansiq.export.bundle import write_bundle
from tansiq.ingest.bundle import ImportReport, WriteOptions, import_file
from tansiq.storage.base import Principal, Store


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
    from tansiq.access.audit import event as audit_event
    from tansiq.access.policy import access_for, default_tlp, writer_context

    options = WriteOptions(
        writer=writer_context(store, principal),
        access=access_for(principal, coll, default_tlp(store)),
        audit=audit_event(principal, "objects.write", coll.id, via="cli-import"),
    )
    report = ImportReport()
    show_progress = sys.stderr.isatty() and not as_json
    errors: list[str] = []
    for path in paths:
        try:
            if show_progress:
                _import_with_progress(store, coll.id, principal, path, report, options)
            else:
                import_file(store, coll.id, principal, path, report=report, options=options)
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


def _import_with_progress(
    store: Store,
    coll_id: str,
    principal: Principal,
    path: Path,
    report: ImportReport,
    options: WriteOptions,
) -> None:
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
            options=options,
            progress=lambda done, _total: progress.update(task, completed=done),
        )


@click.command("export")
@click.option("--collection", "collection_ref", required=True, help="Collection id or alias.")
@click.option("--api-root", default=None)
@click.option("--out", "out_path", default=None, help="Output file (default: standard output).")
@click.option(
    "--user",
    "user_name",
    default=None,
    help="Export only what this user may see (default: everything, as the operator).",
)
@pass_ctx
@friendly
def export_cmd(
    ctx: Context,
    collection_ref: str,
    api_root: str | None,
    out_path: str | None,
    user_name: str | None,
) -> None:
    """Export every version of a collection as one STIX 2.1 bundle."""
    from tansiq.access.audit import event as audit_event
    from tansiq.access.audit import operator_event
    from tansiq.access.permissions import can_read
    from tansiq.access.policy import access_for, default_tlp

    store = ctx.store()
    coll = lib.require_collection(store, collection_ref, api_root)
    access = None
    if user_name is not None:
        principal = lib.principal(store, user_name)
        if not can_read(principal, coll):
            raise PermissionDenied(f"user '{user_name}' may not read collection '{collection_ref}'")
        access = access_for(principal, coll, default_tlp(store))
    if out_path is None:
        count = write_bundle(store, coll.id, sys.stdout.buffer, access=access)
        sys.stdout.flush()
    else:
        try:
            with open(out_path, "wb") as fh:
                count = write_bundle(store, coll.id, fh, access=access)
        except OSError as exc:
            raise InvalidInput(f"{out_path}: cannot write ({exc.strerror})") from exc
        click.echo(f"exported {count} object versions to {out_path}", err=True)
    ev = (
        audit_event(principal, "export", coll.id, returned=count)
        if user_name is not None
        else operator_event("export", collection=coll.id, returned=count)
    )
    store.append_audit([replace(ev, collection_id=coll.id)])


def register(cli: click.Group) -> None:
    cli.add_command(import_cmd)
    cli.add_command(export_cmd)
