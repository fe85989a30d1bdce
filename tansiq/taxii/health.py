"""``GET /healthz``: for load balancers and monitoring, without credentials.

200 ``{"status": "ok"}`` when this process serves HTTP *and* its database answers; 503
``{"status": "unavailable", "reason": ...}`` otherwise. It reveals nothing else.
"""

from __future__ import annotations

import asyncio

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tansiq.taxii.context import services


async def healthz(request: Request) -> Response:
    store = services(request).store
    try:
        await asyncio.to_thread(store.generation)
    except Exception:  # noqa: BLE001 - any database failure means "not ready"
        body = {"status": "unavailable", "reason": "database not reachable"}
        return Response(orjson.dumps(body), status_code=503, media_type="application/json")
    return Response(b'{"status":"ok"}', media_type="application/json")
