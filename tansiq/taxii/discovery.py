"""Server discovery (/taxii2/) and API root information (/{api-root}/)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from tansiq.errors import AuthenticationError
from tansiq.taxii import context
from tansiq.taxii.media import TAXII_21


async def discovery(request: Request) -> Response:
    svc, principal = context.begin(request)
    roots = svc.directory.list_api_roots()
    if principal.anonymous:
        public_roots = {c.api_root for c in svc.directory.list_collections() if c.public}
        if not public_roots:
            raise AuthenticationError("authentication required")
        roots = [r for r in roots if r.name in public_roots]
    base = context.base_url(request, svc)
    body: dict[str, object] = {"title": svc.settings.title}
    if svc.settings.description:
        body["description"] = svc.settings.description
    if svc.settings.contact:
        body["contact"] = svc.settings.contact
    names = [r.name for r in roots]
    default = svc.settings.default_api_root
    if default and default in names:
        body["default"] = f"{base}/{default}/"
    body["api_roots"] = [f"{base}/{n}/" for n in names]
    return context.taxii_response(body)


async def api_root_information(request: Request) -> Response:
    svc, principal = context.begin(request)
    root = context.api_root(svc, principal, request.path_params["api_root"])
    body: dict[str, object] = {"title": root.title}
    if root.description:
        body["description"] = root.description
    body["versions"] = [TAXII_21]
    body["max_content_length"] = root.max_content_length
    return context.taxii_response(body)
