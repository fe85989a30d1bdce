"""Manifest (/{root}/collections/{id}/manifest/)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tansiq.taxii import context
from tansiq.taxii.listing import paged_query


async def get_manifest(request: Request) -> Response:
    svc, principal = context.begin(request)
    root = context.api_root(svc, principal, request.path_params["api_root"])
    coll = context.collection(svc, principal, root.name, request.path_params["collection_id"])
    context.require_read(principal, coll)
    _, page, token = paged_query(request, svc, principal, coll, kind="manifest")
    body: dict[str, Any] = {"more": page.more}
    if token:
        body["next"] = token
    if page.rows:
        body["objects"] = [r.manifest_entry() for r in page.rows]
    return context.taxii_response(body, headers=context.date_headers(page))
