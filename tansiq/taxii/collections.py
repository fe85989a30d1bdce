"""Collections (/{api-root}/collections/) and one collection (/{api-root}/collections/{id}/)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tansiq.access.permissions import can_read, can_see, can_write
from tansiq.storage.base import Collection, Principal
from tansiq.taxii import context


def describe(coll: Collection, principal: Principal) -> dict[str, Any]:
    body: dict[str, Any] = {"id": coll.id, "title": coll.title}
    if coll.description:
        body["description"] = coll.description
    if coll.alias:
        body["alias"] = coll.alias
    body["can_read"] = can_read(principal, coll)
    body["can_write"] = can_write(principal, coll)
    body["media_types"] = list(coll.media_types)
    return body


async def list_collections(request: Request) -> Response:
    svc, principal = context.begin(request)
    root = context.api_root(svc, principal, request.path_params["api_root"])
    visible = [c for c in svc.directory.list_collections(root.name) if can_see(principal, c)]
    body: dict[str, Any] = {}
    if visible:
        body["collections"] = [describe(c, principal) for c in visible]
    return context.taxii_response(body)


async def get_collection(request: Request) -> Response:
    svc, principal = context.begin(request)
    root = context.api_root(svc, principal, request.path_params["api_root"])
    coll = context.collection(svc, principal, root.name, request.path_params["collection_id"])
    return context.taxii_response(describe(coll, principal))
