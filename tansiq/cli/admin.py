"""Operator commands: init, org, user, collection."""

from __future__ import annotations

import sys

import click

from tansiq.access import admin as lib
from tansiq.access.audit import operator_event
from tansiq.cli.common import Context, emit, friendly, json_option, pass_ctx
from tansiq.errors import InvalidInput
from tansiq.storage import display_url


@click.command()
@json_option
@pass_ctx
@friendly
def init(ctx: Context, as_json: bool) -> None:
    """Create or migrate the database (idempotent)."""
    store = ctx.store(create=True)
    applied = store.migrate()
    lib.ensure_api_root(store)
    emit(
        as_json,
        {"database": display_url(ctx.database), "applied_migrations": applied},
        f"database {display_url(ctx.database)} ready"
        + (f" (applied {', '.join(applied)})" if applied else " (already up to date)"),
    )


@click.group()
def org() -> None:
    """Organisations (each one a STIX identity)."""


@org.command("add")
@click.argument("name")
@json_option
@pass_ctx
@friendly
def org_add(ctx: Context, name: str, as_json: bool) -> None:
    """Create an organisation and its STIX identity."""
    created = lib.add_org(ctx.store(), name)
    ctx.store().append_audit(
        [operator_event("org.add", org=created.name, identity=created.identity_id)]
    )
    emit(
        as_json,
        {"id": created.id, "name": created.name, "identity_id": created.identity_id},
        f"organisation '{created.name}' created (identity {created.identity_id})",
    )


@org.command("list")
@json_option
@pass_ctx
@friendly
def org_list(ctx: Context, as_json: bool) -> None:
    """List organisations."""
    orgs = ctx.store().list_orgs()
    rows = [{"id": o.id, "name": o.name, "identity_id": o.identity_id} for o in orgs]
    emit(as_json, {"organisations": rows}, "\n".join(f"{o.name}\t{o.identity_id}" for o in orgs))


def _read_password(enabled: bool) -> str | None:
    if not enabled:
        return None
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise InvalidInput("--password-stdin was given but standard input holds no password")
    return password


@click.group()
def user() -> None:
    """Users (each belongs to one organisation and has one role)."""


@user.command("add")
@click.argument("name")
@click.option("--org", "org_name", required=True, help="Organisation name.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["reader", "analyst", "org-admin", "admin", "sync"]),
    help="Role of the user.",
)
@click.option("--password-stdin", is_flag=True, help="Read a password from standard input.")
@json_option
@pass_ctx
@friendly
def user_add(
    ctx: Context, name: str, org_name: str, role: str, password_stdin: bool, as_json: bool
) -> None:
    """Create a user and print its API token (shown once)."""
    password = _read_password(password_stdin)
    created = lib.add_user(ctx.store(), name, org_name, role, password)
    ctx.store().append_audit(
        [
            operator_event(
                "user.add", user=name, org=org_name, role=role, token_id=created.token_record.id
            )
        ]
    )
    emit(
        as_json,
        {
            "id": created.user.id,
            "name": created.user.name,
            "org": org_name,
            "role": created.user.role,
            "token": created.token,
            "token_id": created.token_record.id,
        },
        f"user '{created.user.name}' created ({created.user.role} of {org_name})\n"
        f"API token (shown once, keep it safe): {created.token}",
    )


@user.command("list")
@json_option
@pass_ctx
@friendly
def user_list(ctx: Context, as_json: bool) -> None:
    """List users."""
    store = ctx.store()
    orgs = {o.id: o.name for o in store.list_orgs()}
    users = store.list_users()
    rows = [
        {
            "id": u.id,
            "name": u.name,
            "org": orgs.get(u.org_id),
            "role": u.role,
            "disabled": u.disabled,
        }
        for u in users
    ]
    emit(
        as_json,
        {"users": rows},
        "\n".join(
            f"{r['name']}\t{r['org']}\t{r['role']}" + ("\tdisabled" if r["disabled"] else "")
            for r in rows
        ),
    )


@click.group()
def collection() -> None:
    """TAXII collections and their grants."""


@collection.command("add")
@click.argument("title")
@click.option("--api-root", default=lib.DEFAULT_API_ROOT, show_default=True, help="API root name.")
@click.option("--alias", default=None, help="Short name usable instead of the id.")
@click.option("--description", default=None)
@click.option("--read", "read_orgs", multiple=True, help="Organisation granted read (repeatable).")
@click.option(
    "--write", "write_orgs", multiple=True, help="Organisation granted write (repeatable)."
)
@click.option("--public", is_flag=True, help="Anonymous callers may read it.")
@json_option
@pass_ctx
@friendly
def collection_add(
    ctx: Context,
    title: str,
    api_root: str,
    alias: str | None,
    description: str | None,
    read_orgs: tuple[str, ...],
    write_orgs: tuple[str, ...],
    public: bool,
    as_json: bool,
) -> None:
    """Create a collection in an API root."""
    created = lib.add_collection(
        ctx.store(),
        title,
        api_root=api_root,
        alias=alias,
        description=description,
        read=read_orgs,
        write=write_orgs,
        public=public,
    )
    ctx.store().append_audit(
        [
            operator_event(
                "collection.add",
                collection=created.id,
                title=created.title,
                read=sorted(read_orgs),
                write=sorted(write_orgs),
                public=public,
            )
        ]
    )
    emit(
        as_json,
        {
            "id": created.id,
            "title": created.title,
            "alias": created.alias,
            "api_root": created.api_root,
        },
        f"collection '{created.title}' created in api root '{created.api_root}': {created.id}",
    )


@collection.command("list")
@json_option
@pass_ctx
@friendly
def collection_list(ctx: Context, as_json: bool) -> None:
    """List collections."""
    store = ctx.store()
    orgs = {o.id: o.name for o in store.list_orgs()}
    rows = [
        {
            "id": c.id,
            "api_root": c.api_root,
            "title": c.title,
            "alias": c.alias,
            "public": c.public,
            "read": sorted(orgs[o] for o in c.read_orgs),
            "write": sorted(orgs[o] for o in c.write_orgs),
            "versions": store.count_versions(c.id),
        }
        for c in store.list_collections()
    ]
    emit(
        as_json,
        {"collections": rows},
        "\n".join(
            f"{r['id']}\t{r['api_root']}\t{r['alias'] or '-'}\t{r['title']}\t{r['versions']} versions"
            for r in rows
        ),
    )


def register(cli: click.Group) -> None:
    cli.add_command(init)
    cli.add_command(org)
    cli.add_command(user)
    cli.add_command(collection)
