"""Federation commands: ``tansiq peer ...`` and ``tansiq sync``."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from typing import Any

import click

from tansiq.access import admin as lib
from tansiq.access.audit import operator_event
from tansiq.cli.common import Context, emit, friendly, json_option, pass_ctx
from tansiq.errors import InvalidInput, PeerError
from tansiq.federation.client import Credentials
from tansiq.federation.peers import DEFAULT_INTERVAL, Mapping, Registry
from tansiq.federation.report import PeerReport
from tansiq.federation.secrets import SecretBox, key_path
from tansiq.federation.status import peer_status
from tansiq.federation.sync import Scheduler, default_client


def _registry(ctx: Context) -> Registry:
    return Registry(ctx.store(), SecretBox(key_path(ctx.database)))


def _audit(ctx: Context, action: str, **detail: object) -> None:
    ctx.store().append_audit([operator_event(action, **detail)])


def _stdin_line(what: str) -> str:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise InvalidInput(f"{what} was given but standard input holds nothing")
    return value


def _credentials(token_stdin: bool, user: str | None, password_stdin: bool) -> Credentials | None:
    if token_stdin and (user or password_stdin):
        raise InvalidInput("give either --token-stdin or --user with --password-stdin, not both")
    if token_stdin:
        return Credentials(token=_stdin_line("--token-stdin"))
    if user or password_stdin:
        if not (user and password_stdin):
            raise InvalidInput("--user and --password-stdin go together")
        return Credentials(user=user, password=_stdin_line("--password-stdin"))
    return None


def _local_names(ctx: Context, mappings: Iterable[Mapping]) -> dict[str, str]:
    """Local collection id -> its alias (else title) for messages."""
    out = {}
    for m in mappings:
        coll = ctx.store().get_collection(m.local)
        out[m.local] = (coll.alias or coll.title) if coll else m.local
    return out


def _pair(text: str, option: str) -> tuple[str, str]:
    left, sep, right = text.partition(":")
    if not sep or not left or not right:
        shape = "REMOTE:LOCAL" if option == "--pull" else "LOCAL:REMOTE"
        raise InvalidInput(f"{option} '{text}' must look like {shape} (collection ids or aliases)")
    return left, right


@click.group()
def peer() -> None:
    """Partner TAXII 2.1 servers this instance pulls from and pushes to."""
    # errors end in one line; not the client's retry warnings before it (peer check, map)
    logging.getLogger("tansiq.federation").addHandler(logging.NullHandler())


@peer.command("add")
@click.argument("name")
@click.option("--url", required=True, help="The peer's TAXII discovery URL (…/taxii2/).")
@click.option("--api-root", default=None, help="API root URL or name (default: the peer's).")
@click.option("--org", "org_name", required=True, help="Local organisation the peer acts for.")
@click.option("--token-stdin", is_flag=True, help="Read the peer's API token from stdin.")
@click.option("--user", default=None, help="User name on the peer (with --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--interval", default=DEFAULT_INTERVAL, show_default=True, type=float)
@json_option
@pass_ctx
@friendly
def peer_add(
    ctx: Context,
    name: str,
    url: str,
    api_root: str | None,
    org_name: str,
    token_stdin: bool,
    user: str | None,
    password_stdin: bool,
    interval: float,
    as_json: bool,
) -> None:
    """Register a peer. Its credentials are stored encrypted and never printed."""
    credentials = _credentials(token_stdin, user, password_stdin)
    if credentials is None:
        raise InvalidInput("give --token-stdin, or --user with --password-stdin")
    registry = _registry(ctx)
    org = lib.require_org(ctx.store(), org_name)
    p = registry.add(name, url, org, credentials, api_root=api_root, interval=interval)
    _audit(ctx, "peer.add", peer=name, url=url, org=org.name)
    emit(
        as_json,
        p.public(),
        f"peer '{name}' added ({url}), acting for '{org.name}'; map collections with "
        f"'tansiq peer map {name} --pull REMOTE:LOCAL --push LOCAL:REMOTE'",
    )


@peer.command("set")
@click.argument("name")
@click.option("--url", default=None)
@click.option("--api-root", default=None)
@click.option("--interval", default=None, type=float)
@click.option("--token-stdin", is_flag=True)
@click.option("--user", default=None)
@click.option("--password-stdin", is_flag=True)
@json_option
@pass_ctx
@friendly
def peer_set(
    ctx: Context,
    name: str,
    url: str | None,
    api_root: str | None,
    interval: float | None,
    token_stdin: bool,
    user: str | None,
    password_stdin: bool,
    as_json: bool,
) -> None:
    """Change a peer's URL, API root, interval or credentials."""
    credentials = _credentials(token_stdin, user, password_stdin)
    p = _registry(ctx).update(
        name, url=url, api_root=api_root, interval=interval, credentials=credentials
    )
    _registry(ctx).make_due(name)
    _audit(ctx, "peer.set", peer=name, credentials_changed=credentials is not None)
    emit(as_json, p.public(), f"peer '{name}' updated")


@peer.command("list")
@json_option
@pass_ctx
@friendly
def peer_list(ctx: Context, as_json: bool) -> None:
    """List peers and their mappings."""
    peers = _registry(ctx).peers()
    lines = []
    for p in peers:
        lines.append(f"{p.name}\t{p.url}\torg={p.org}\tevery {p.interval:g}s")
        lines += [f"  {m.direction}\t{m.remote} -> {m.local}" for m in p.pulls]
        lines += [f"  {m.direction}\t{m.local} -> {m.remote}" for m in p.pushes]
    emit(as_json, {"peers": [p.public() for p in peers]}, "\n".join(lines) or "no peers")


def _mappings(ctx: Context, pulls: tuple[str, ...], pushes: tuple[str, ...]) -> list[Mapping]:
    store = ctx.store()
    out = []
    for text in pulls:
        remote, local = _pair(text, "--pull")
        out.append(Mapping("pull", remote, lib.require_collection(store, local).id))
    for text in pushes:
        local, remote = _pair(text, "--push")
        out.append(Mapping("push", remote, lib.require_collection(store, local).id))
    if not out:
        raise InvalidInput("give at least one --pull REMOTE:LOCAL or --push LOCAL:REMOTE")
    return out


@peer.command("map")
@click.argument("name")
@click.option("--pull", "pulls", multiple=True, metavar="REMOTE:LOCAL")
@click.option("--push", "pushes", multiple=True, metavar="LOCAL:REMOTE")
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Ask the peer whether its collections exist and allow the direction.",
)
@json_option
@pass_ctx
@friendly
def peer_map(
    ctx: Context,
    name: str,
    pulls: tuple[str, ...],
    pushes: tuple[str, ...],
    check: bool,
    as_json: bool,
) -> None:
    """Map collections: pull a peer's collection into a local one, push a local one."""
    store = ctx.store()
    registry = _registry(ctx)
    p = registry.get(name)
    org = lib.require_org(store, p.org)
    mappings = _mappings(ctx, pulls, pushes)
    for m in mappings:
        if m.direction == "push":
            coll = lib.require_collection(store, m.local)
            if org.id not in coll.read_orgs:
                raise InvalidInput(
                    f"organisation '{org.name}' (peer '{name}') is not granted read on "
                    f"'{coll.title}'; first: tansiq grant {coll.alias or coll.id} '{org.name}'"
                )
    if check:
        with default_client(p, registry.credentials(p)) as client:
            for m in mappings:
                remote = client.resolve_collection(m.remote)
                allowed = remote.can_read if m.direction == "pull" else remote.can_write
                if not allowed:
                    verb = "read" if m.direction == "pull" else "write"
                    raise PeerError(
                        f"peer '{name}' does not let us {verb} its collection "
                        f"'{remote.title}' ({remote.id})",
                        transient=False,
                    )
    for m in mappings:
        p = registry.add_mapping(name, m)
        _audit(ctx, "peer.map", peer=name, **m.as_dict())
    registry.make_due(name)
    local = _local_names(ctx, mappings)
    emit(
        as_json,
        p.public(),
        "\n".join(
            f"{name}: pull {m.remote} (on the peer) -> {local[m.local]} (here)"
            if m.direction == "pull"
            else f"{name}: push {local[m.local]} (here) -> {m.remote} (on the peer)"
            for m in mappings
        ),
    )


@peer.command("unmap")
@click.argument("name")
@click.option("--pull", "pulls", multiple=True, metavar="REMOTE:LOCAL")
@click.option("--push", "pushes", multiple=True, metavar="LOCAL:REMOTE")
@json_option
@pass_ctx
@friendly
def peer_unmap(
    ctx: Context, name: str, pulls: tuple[str, ...], pushes: tuple[str, ...], as_json: bool
) -> None:
    """Remove mappings (and their cursors)."""
    registry = _registry(ctx)
    p = registry.get(name)
    for m in _mappings(ctx, pulls, pushes):
        p = registry.remove_mapping(name, m)
        _audit(ctx, "peer.unmap", peer=name, **m.as_dict())
    emit(as_json, p.public(), f"peer '{name}': mappings removed")


@peer.command("check")
@click.argument("name")
@json_option
@pass_ctx
@friendly
def peer_check(ctx: Context, name: str, as_json: bool) -> None:
    """Connect to a peer and list the collections it offers us."""
    registry = _registry(ctx)
    p = registry.get(name)
    with default_client(p, registry.credentials(p)) as client:
        root = client.api_root_url()
        info = client.api_root_information()
        collections = client.collections()
    rows = [
        {
            "id": c.id,
            "alias": c.alias,
            "title": c.title,
            "can_read": c.can_read,
            "can_write": c.can_write,
        }
        for c in collections
    ]
    lines = [f"{name}: API root {root} ({info.get('title', '')})"]
    lines += [
        f"  {c['id']}\t{c['alias'] or '-'}\t{c['title']}\t"
        f"{'read' if c['can_read'] else '-'}/{'write' if c['can_write'] else '-'}"
        for c in rows
    ]
    emit(as_json, {"peer": name, "api_root": root, "collections": rows}, "\n".join(lines))


@peer.command("status")
@click.argument("name", required=False)
@click.option(
    "--remote", is_flag=True, help="Ask each peer how many versions the pulls are behind."
)
@json_option
@pass_ctx
@friendly
def peer_status_cmd(ctx: Context, name: str | None, remote: bool, as_json: bool) -> None:
    """Last success, cursors, lag and last error of each peer."""
    store = ctx.store()
    registry = _registry(ctx)
    peers = [registry.get(name)] if name else registry.peers()
    states = []
    for p in peers:
        if remote and p.pulls:
            with default_client(p, registry.credentials(p)) as client:
                states.append(peer_status(store, registry, p, client))
        else:
            states.append(peer_status(store, registry, p))
    emit(as_json, {"peers": states}, "\n".join(_status_text(s) for s in states) or "no peers")


def _status_text(s: dict[str, Any]) -> str:
    lines = [
        f"{s['name']}  {s['url']}  org={s['org']}",
        f"  last success: {s['last_success'] or 'never'}   last attempt: "
        f"{s['last_attempt'] or 'never'}   next: {s['next_attempt'] or 'now'}",
    ]
    if s["last_error"]:
        lines.append(f"  last error ({s['consecutive_failures']} in a row): {s['last_error']}")
    for m in s["mappings"]:
        lag = m.get("lag_objects")
        lag_text = "" if lag is None else f", {lag} behind"
        age = m.get("lag_seconds")
        age_text = "" if age is None else f", lag {age:.0f}s"
        extra = ""
        if m["direction"] == "push" and m.get("failed"):
            extra = f", {m['failed']} refused by the peer (retried)"
        if m["direction"] == "pull" and m.get("rejected"):
            extra = f", {m['rejected']} invalid objects rejected"
        if m.get("problem"):
            extra += f" [{m['problem']}]"
        lines.append(
            f"  {m['direction']} {m['remote']} / {m['local_title'] or m['local']}: "
            f"{m['objects']} moved{lag_text}{age_text}{extra}"
        )
    return "\n".join(lines)


@peer.command("reset")
@click.argument("name")
@click.option("--pull", "direction", flag_value="pull", help="Only the pull cursors.")
@click.option("--push", "direction", flag_value="push", help="Only the push cursors.")
@json_option
@pass_ctx
@friendly
def peer_reset(ctx: Context, name: str, direction: str | None, as_json: bool) -> None:
    """Forget cursors: the next sync moves everything again (idempotent on both sides)."""
    n = _registry(ctx).reset(name, direction)  # type: ignore[arg-type]
    _audit(ctx, "peer.reset", peer=name, direction=direction or "all")
    emit(as_json, {"peer": name, "cursors_reset": n}, f"peer '{name}': {n} cursor(s) reset")


@peer.command("remove")
@click.argument("name")
@json_option
@pass_ctx
@friendly
def peer_remove(ctx: Context, name: str, as_json: bool) -> None:
    """Remove a peer, its credentials and its state (received objects stay)."""
    _registry(ctx).remove(name)
    _audit(ctx, "peer.remove", peer=name)
    emit(as_json, {"peer": name, "removed": True}, f"peer '{name}' removed")


def _report_text(r: PeerReport, local: dict[str, str] | None = None) -> str:
    lines = []
    for m in r.mappings:
        here = (local or {}).get(m.local, m.local)
        where = f"{m.remote} -> {here}" if m.direction == "pull" else f"{here} -> {m.remote}"
        if m.error:
            lines.append(f"{r.peer}: {m.direction} {where}: failed: {m.error}")
            continue
        if m.direction == "pull":
            text = (
                f"{r.peer}: pull {where}: {m.objects} versions, {m.added} added, "
                f"{m.unchanged} unchanged"
            )
        else:  # a TAXII status does not tell new from already-stored versions
            text = f"{r.peer}: push {where}: {m.objects} versions sent, {m.added} accepted"
        if m.invalid:
            text += f", {m.invalid} invalid (rejected)"
        if m.conflicts:
            text += f", {m.conflicts} conflicts"
        if m.failed:
            text += f", {m.failed} refused by the peer (kept for retry)"
        lines.append(text)
    if r.error:
        lines.append(f"{r.peer}: failed: {r.error}")
    return "\n".join(lines) or f"{r.peer}: nothing mapped"


@click.command("sync")
@click.argument("name", required=False)
@click.option("--once", is_flag=True, help="Sync now, once, and exit (else run as a daemon).")
@click.option(
    "--wait",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0),
    help="With --once: seconds to wait for a sync another process is running.",
)
@click.option("--tick", default=2.0, show_default=True, type=float, hidden=True)
@json_option
@pass_ctx
@friendly
def sync(
    ctx: Context, name: str | None, once: bool, wait: float, tick: float, as_json: bool
) -> None:
    """Sync peers: every mapping of NAME (or of every peer) pulled, then pushed."""
    store = ctx.store()
    registry = _registry(ctx)
    names = [name] if name else None
    local = _local_names(ctx, [m for p in registry.peers() for m in p.mappings])
    scheduler = Scheduler(store, registry)
    try:
        if once:
            # the reports say it all: no second copy of each error from the library's log
            logging.getLogger("tansiq.federation").addHandler(logging.NullHandler())
            reports = scheduler.run_once(names, wait=wait)
            if as_json:
                emit(True, {"reports": [r.as_dict() for r in reports]}, "")
            else:
                for r in reports:
                    click.echo(_report_text(r, local), err=not r.ok)
            if not all(r.ok for r in reports):
                raise click.exceptions.Exit(1)
            return
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        scheduler.on_report = lambda r: click.echo(_report_text(r, local), err=not r.ok)
        click.echo("syncing due peers; Ctrl-C stops after the current pages", err=True)
        while True:
            scheduler.tick(names)
            time.sleep(tick)
    finally:
        scheduler.close()


def register(cli: click.Group) -> None:
    cli.add_command(peer)
    cli.add_command(sync)
