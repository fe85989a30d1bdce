"""``create_app(settings, store)``: the TAXII 2.1 ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tansiq.access.audit import AuditLog
from tansiq.access.authenticate import Authenticator
from tansiq.access.directory import Directory
from tansiq.errors import TansiqError
from tansiq.federation.peers import Registry
from tansiq.federation.secrets import SecretBox, key_path
from tansiq.federation.sync import Scheduler
from tansiq.jobs import DEFAULT_JOBS, JobRunner
from tansiq.storage.base import Store
from tansiq.taxii import collections, discovery, health, manifest, objects, openapi
from tansiq.taxii.context import Services, error_response, taxii_response
from tansiq.taxii.settings import Settings

log = logging.getLogger("tansiq.taxii")

JOBS_TICK_SECONDS = 30.0

ROUTES = [
    Route("/taxii2/", discovery.discovery, methods=["GET"]),
    Route("/openapi.json", openapi.openapi_document, methods=["GET"]),
    Route("/healthz", health.healthz, methods=["GET"]),
    Route("/{api_root}/", discovery.api_root_information, methods=["GET"]),
    Route("/{api_root}/status/{status_id}/", objects.get_status, methods=["GET"]),
    Route("/{api_root}/collections/", collections.list_collections, methods=["GET"]),
    Route("/{api_root}/collections/{collection_id}/", collections.get_collection, methods=["GET"]),
    Route(
        "/{api_root}/collections/{collection_id}/objects/",
        objects.objects_endpoint,
        methods=["GET", "POST"],
    ),
    Route(
        "/{api_root}/collections/{collection_id}/objects/{object_id}/",
        objects.object_endpoint,
        methods=["GET", "DELETE"],
    ),
    Route(
        "/{api_root}/collections/{collection_id}/objects/{object_id}/versions/",
        objects.get_versions,
        methods=["GET"],
    ),
    Route(
        "/{api_root}/collections/{collection_id}/manifest/",
        manifest.get_manifest,
        methods=["GET"],
    ),
]


async def _tansiq_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TansiqError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {404: "Not found", 405: "Method not allowed"}
    body = {
        "title": titles.get(exc.status_code, "HTTP error"),
        "description": str(exc.detail),
        "http_status": str(exc.status_code),
    }
    return taxii_response(body, exc.status_code, dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    body = {
        "title": "Internal error",
        "description": "the server met an unexpected error; it has been logged",
        "http_status": "500",
    }
    return taxii_response(body, 500)


def create_app(settings: Settings, store: Store) -> Starlette:
    """Build the TAXII 2.1 application over a store (no module-level state)."""
    audit = AuditLog(store)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_background(store))]
        scheduler = _federation_scheduler(settings, store)
        if scheduler is not None:
            tasks.append(asyncio.create_task(_federation(scheduler, settings)))
        audit.start()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if scheduler is not None:
                await asyncio.to_thread(scheduler.close)
            await asyncio.to_thread(audit.close)

    app = Starlette(
        routes=ROUTES,
        exception_handlers={
            TansiqError: _tansiq_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    directory = Directory(store)
    app.state.services = Services(
        settings=settings,
        store=store,
        directory=directory,
        auth=Authenticator(directory),
        audit=audit,
    )
    return app


async def _background(store: Store) -> None:
    """Run due background jobs (once across all processes sharing the database)."""
    runner = JobRunner(store, DEFAULT_JOBS)
    while True:
        try:
            await asyncio.to_thread(runner.run_pending)
        except Exception:  # noqa: BLE001 - retried at the next tick
            log.exception("background jobs failed")
        await asyncio.sleep(JOBS_TICK_SECONDS)


def _federation_scheduler(settings: Settings, store: Store) -> Scheduler | None:
    if not settings.peer_key_file:
        return None
    registry = Registry(store, SecretBox(Path(settings.peer_key_file)))
    return Scheduler(store, registry)


async def _federation(scheduler: Scheduler, settings: Settings) -> None:
    """Sync due peers (each once across every process, under its lease)."""
    while True:
        try:
            await asyncio.to_thread(scheduler.tick)
        except Exception:  # noqa: BLE001 - retried at the next tick
            log.exception("federation scheduler failed")
        await asyncio.sleep(settings.federation_tick_seconds)


def app_from_environment() -> Starlette:
    """Factory for ``uvicorn --factory`` and ``tansiq serve --workers N``."""
    import os

    from tansiq.storage import database_url, open_store

    store = open_store(os.environ.get("TANSIQ_DATABASE"), create=False)
    store.check_ready()
    settings = Settings(
        public_base_url=os.environ.get("TANSIQ_PUBLIC_URL") or None,
        peer_key_file=str(key_path(database_url())),
    )
    return create_app(settings, store)
