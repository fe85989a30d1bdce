"""Access administration commands: tokens, user status and roles, grants, default marking,
and the audit log."""

from __future__ import annotations

import click

from tansiq.access import admin as lib
from tansiq.access.audit import operator_event, verify
from tansiq.access.policy import default_tlp, set_default_marking
from tansiq.cli.common import Context, emit, fail, friendly, json_option, pass_ctx
from tansiq.errors import InvalidInput, NotFound
from tansiq.storage.base import TLP_LEVELS


def _audit(ctx: Context, action: str, **detail: object) -> None:
    ctx.store().append_audit([operator_event(action, **detail)])


# ---------------------------------------------------------------- tokens


@click.group()
def token() -> None:
    """API tokens (stored hashed; a token is shown once, when it is created)."""


@token.command("add")
@click.argument("user_name")
@click.option("--expires", default=None, help="Expiry, e.g. 2027-01-31T00:00:00Z.")
@click.option("--label", default=None, help="A note to recognise the token by.")
@json_option
@pass_ctx
@friendly
def token_add(
    ctx: Context, user_name: str, expires: str | None, label: str | None, as_json: bool
) -> None:
    """Issue a new API token for a user."""
    from tansiq.stix.timestamps import format_timestamp, parse_timestamp

    expiry = None
    if expires is not None:
        try:
            expiry = format_timestamp(parse_timestamp(expires))
        except ValueError as exc:
            raise InvalidInput(
                f"--expires '{expires}' is not a timestamp like 2027-01-31T00:00:00Z"
            ) from exc
    plain, record = lib.issue_token(ctx.store(), user_name, expiry, label)
    _audit(ctx, "token.add", user=user_name, token_id=record.id)
    emit(
        as_json,
        {"token_id": record.id, "user": user_name, "token": plain, "expires": record.expires},
        f"token {record.id} for '{user_name}' (shown once, keep it safe): {plain}",
    )


@token.command("list")
@click.option("--user", "user_name", default=None)
@json_option
@pass_ctx
@friendly
def token_list(ctx: Context, user_name: str | None, as_json: bool) -> None:
    """List tokens (never their values)."""
    store = ctx.store()
    users = {u.id: u.name for u in store.list_users()}
    uid = lib.require_user(store, user_name).id if user_name else None
    rows = [
        {
            "id": t.id,
            "user": users.get(t.user_id),
            "label": t.label,
            "created": t.created,
            "expires": t.expires,
            "last_used": t.last_used,
            "revoked": t.revoked,
        }
        for t in store.list_tokens(uid)
    ]
    emit(
        as_json,
        {"tokens": rows},
        "\n".join(
            f"{r['id']}\t{r['user']}\t{r['label'] or '-'}\tcreated {r['created']}\t"
            f"last used {r['last_used'] or 'never'}" + ("\trevoked" if r["revoked"] else "")
            for r in rows
        ),
    )


@token.command("revoke")
@click.argument("token_id", type=int)
@json_option
@pass_ctx
@friendly
def token_revoke(ctx: Context, token_id: int, as_json: bool) -> None:
    """Revoke a token (it stops working at once)."""
    store = ctx.store()
    if not any(t.id == token_id for t in store.list_tokens()):
        raise NotFound(f"unknown token {token_id}")
    changed = store.revoke_token(token_id)
    _audit(ctx, "token.revoke", token_id=token_id)
    emit(
        as_json,
        {"token_id": token_id, "revoked": True, "changed": changed},
        f"token {token_id} revoked",
    )


# ---------------------------------------------------------------- users


def _set_disabled(ctx: Context, name: str, disabled: bool, as_json: bool) -> None:
    user = lib.require_user(ctx.store(), name)
    ctx.store().set_user_disabled(user.id, disabled)
    word = "disabled" if disabled else "enabled"
    _audit(ctx, f"user.{'disable' if disabled else 'enable'}", user=name)
    emit(as_json, {"user": name, "disabled": disabled}, f"user '{name}' {word}")


@click.command("disable")
@click.argument("name")
@json_option
@pass_ctx
@friendly
def user_disable(ctx: Context, name: str, as_json: bool) -> None:
    """Disable a user: its tokens and password stop working."""
    _set_disabled(ctx, name, True, as_json)


@click.command("enable")
@click.argument("name")
@json_option
@pass_ctx
@friendly
def user_enable(ctx: Context, name: str, as_json: bool) -> None:
    """Enable a disabled user again."""
    _set_disabled(ctx, name, False, as_json)


@click.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["reader", "analyst", "org-admin", "admin", "sync"]))
@json_option
@pass_ctx
@friendly
def user_role(ctx: Context, name: str, role: str, as_json: bool) -> None:
    """Change a user's role."""
    user = lib.require_user(ctx.store(), name)
    ctx.store().set_user_role(user.id, role)  # type: ignore[arg-type]
    _audit(ctx, "user.role", user=name, role=role)
    emit(as_json, {"user": name, "role": role}, f"user '{name}' is now {role}")


# ---------------------------------------------------------------- grants


@click.command("grant")
@click.argument("collection_ref")
@click.argument("org_name")
@click.option("--read/--no-read", default=True, show_default=True)
@click.option("--write/--no-write", default=False, show_default=True)
@click.option("--api-root", default=None)
@json_option
@pass_ctx
@friendly
def grant(
    ctx: Context,
    collection_ref: str,
    org_name: str,
    read: bool,
    write: bool,
    api_root: str | None,
    as_json: bool,
) -> None:
    """Grant an organisation read and/or write on a collection (replaces its grant)."""
    store = ctx.store()
    coll = lib.require_collection(store, collection_ref, api_root)
    org = lib.require_org(store, org_name)
    if not read and not write:
        raise InvalidInput("give --read and/or --write (use 'tansiq revoke' to remove a grant)")
    store.set_grant(coll.id, org.id, read, write)
    _audit(ctx, "grant.set", collection=coll.id, org=org.name, read=read, write=write)
    emit(
        as_json,
        {"collection": coll.id, "org": org.name, "read": read, "write": write},
        f"'{org.name}' on '{coll.title}': read={'yes' if read else 'no'}, write={'yes' if write else 'no'}",
    )


@click.command("revoke")
@click.argument("collection_ref")
@click.argument("org_name")
@click.option("--api-root", default=None)
@json_option
@pass_ctx
@friendly
def revoke(
    ctx: Context, collection_ref: str, org_name: str, api_root: str | None, as_json: bool
) -> None:
    """Remove an organisation's grant on a collection."""
    store = ctx.store()
    coll = lib.require_collection(store, collection_ref, api_root)
    org = lib.require_org(store, org_name)
    store.set_grant(coll.id, org.id, False, False)
    _audit(ctx, "grant.revoke", collection=coll.id, org=org.name)
    emit(
        as_json,
        {"collection": coll.id, "org": org.name, "read": False, "write": False},
        f"'{org.name}' no longer granted on '{coll.title}'",
    )


# ---------------------------------------------------------------- settings


@click.group()
def settings() -> None:
    """Instance settings."""


@settings.command("default-marking")
@click.argument("marking", required=False)
@json_option
@pass_ctx
@friendly
def default_marking(ctx: Context, marking: str | None, as_json: bool) -> None:
    """Show or set the TLP level of unmarked objects (TLP:AMBER out of the box)."""
    store = ctx.store()
    if marking is not None:
        value = set_default_marking(store, marking)
        _audit(ctx, "settings.default_marking", value=value)
    else:
        value = TLP_LEVELS[default_tlp(store)]
    emit(as_json, {"default_marking": value}, f"default marking: {value}")


# ---------------------------------------------------------------- audit


@click.group()
def audit() -> None:
    """The append-only, hash-chained audit log."""


@audit.command("verify")
@json_option
@pass_ctx
@friendly
def audit_verify(ctx: Context, as_json: bool) -> None:
    """Check the whole chain; name the first altered, removed, inserted or moved entry."""
    result = verify(ctx.store())
    if as_json:
        emit(True, result.as_dict(), "")
        if not result.ok:
            raise click.exceptions.Exit(1)
        return
    if result.ok:
        click.echo(f"audit log intact: {result.entries} entries verified")
    else:
        fail(f"audit log broken at entry {result.first_bad}: {result.reason}")


@audit.command("show")
@click.option("--user", "user_name", default=None)
@click.option("--org", "org_name", default=None)
@click.option("--collection", "collection_ref", default=None)
@click.option("--since", default=None, help="Timestamp, e.g. 2026-11-01T00:00:00Z.")
@click.option("--until", default=None)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1_000_000))
@json_option
@pass_ctx
@friendly
def audit_show(
    ctx: Context,
    user_name: str | None,
    org_name: str | None,
    collection_ref: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List audit entries, filtered by user, organisation, collection and time."""
    import orjson

    from tansiq.stix.timestamps import timestamp_key

    store = ctx.store()
    user_id = lib.require_user(store, user_name).id if user_name else None
    org_id = lib.require_org(store, org_name).id if org_name else None
    coll_id = lib.require_collection(store, collection_ref).id if collection_ref else None
    bounds: list[str | None] = []
    for label, value in (("--since", since), ("--until", until)):
        if value is None:
            bounds.append(None)
            continue
        try:
            bounds.append(timestamp_key(value))
        except ValueError as exc:
            raise InvalidInput(
                f"{label} '{value}' is not a timestamp like 2026-11-01T00:00:00Z"
            ) from exc
    rows = []
    for row in store.iter_audit(
        user_id=user_id, org_id=org_id, collection_id=coll_id, since=bounds[0], until=bounds[1]
    ):
        rows.append(row)
        if len(rows) >= limit:
            break
    if as_json:
        emit(
            True,
            {
                "entries": [
                    {
                        "id": r.id,
                        "at": r.at,
                        "actor": r.actor,
                        "action": r.action,
                        "collection": r.collection_id,
                        "detail": orjson.loads(r.detail),
                    }
                    for r in rows
                ]
            },
            "",
        )
        return
    for r in rows:
        detail = r.detail if len(r.detail) <= 160 else r.detail[:157] + "..."
        click.echo(f"{r.id}\t{r.at}\t{r.actor}\t{r.action}\t{r.collection_id or '-'}\t{detail}")


def register(cli: click.Group, user_group: click.Group) -> None:
    cli.add_command(token)
    cli.add_command(grant)
    cli.add_command(revoke)
    cli.add_command(settings)
    cli.add_command(audit)
    user_group.add_command(user_disable)
    user_group.add_command(user_enable)
    user_group.add_command(user_role)
