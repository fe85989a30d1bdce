"""Server commands: serve and demo."""

from __future__ import annotations

import os
import socket

import click

from tansiq.cli.common import Context, friendly, pass_ctx
from tansiq.errors import ConfigurationError


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket the workers share, made with ``IPPROTO_TCP``.

    uvicorn binds it with protocol 0 for ``--workers N``; asyncio then leaves Nagle's
    algorithm on for the accepted connections, and a response written in two parts waits
    for the client's delayed ACK (~40 ms) on every keep-alive request (uvicorn issue
    #3149). With ``IPPROTO_TCP`` the workers set ``TCP_NODELAY`` as a single process does.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _run(ctx: Context, host: str, port: int, workers: int, access_log: bool) -> None:
    import uvicorn

    from tansiq.federation.secrets import key_path
    from tansiq.federation.sync import lease_seconds
    from tansiq.taxii.app import create_app
    from tansiq.taxii.settings import Settings

    lease_seconds()  # a bad TANSIQ_PEER_LEASE_SECONDS: one line now, not a failed start-up

    store = ctx.store()  # fails early, with a clear message, on a missing database
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        store.close()
        os.environ["TANSIQ_DATABASE"] = ctx.database
        config = uvicorn.Config(
            "tansiq.taxii.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=access_log,
            log_level="info",
        )
        Multiprocess(config, sockets=[listening_socket(host, port)]).run()
        return
    settings = Settings(
        public_base_url=os.environ.get("TANSIQ_PUBLIC_URL") or None,
        peer_key_file=str(key_path(ctx.database)),
    )
    app = create_app(settings, store)
    uvicorn.run(app, host=host, port=port, access_log=access_log, log_level="info")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--access-log/--no-access-log", default=False, show_default=True)
@pass_ctx
@friendly
def serve(ctx: Context, host: str, port: int, workers: int, access_log: bool) -> None:
    """Serve the TAXII 2.1 API."""
    _run(ctx, host, port, workers, access_log)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set up the demo data and exit.")
@pass_ctx
@friendly
def demo(ctx: Context, host: str, port: int, no_serve: bool) -> None:
    """Set up a demo instance (organisation, user, collection, data) and serve it."""
    from tansiq.demo import set_up

    creds = set_up(ctx.store(create=True))
    url = f"http://{host}:{port}"
    click.echo(
        "\n".join(
            [
                f"Tansiq demo ready in {ctx.database} ({creds.report.added} new objects loaded)",
                f"  TAXII discovery : {url}/taxii2/",
                f"  API root        : {url}/default/",
                f"  collection      : {url}/default/collections/{creds.collection_id}/",
                f"  user / password : {creds.user} / {creds.password}   (HTTP Basic)",
                f"  API token       : {creds.token}   (Authorization: Bearer ...)",
                "  try:",
                f"    curl -H 'Accept: application/taxii+json;version=2.1' -H 'Authorization: Bearer {creds.token}' "
                f"{url}/default/collections/{creds.collection_id}/objects/",
                "  or in Python (taxii2-client):",
                f"    from taxii2client.v21 import Server; s = Server('{url}/taxii2/', user='{creds.user}', password='{creds.password}')",
                "    print([c.title for c in s.default.collections])",
            ]
        )
    )
    if not no_serve:
        _run(ctx, host, port, 1, False)


def register(cli: click.Group) -> None:
    cli.add_command(serve)
    cli.add_command(demo)
