"""Per-request plumbing shared by the TAXII resources: auth, lookups, responses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tansiq.access.audit import AuditLog
from tansiq.access.authenticate import Authenticator
from tansiq.access.directory import Directory
from tansiq.access.permissions import can_read, can_see, can_write
from tansiq.access.policy import access_for
from tansiq.errors import AuthenticationError, NotFound, PermissionDenied, TansiqError
from tansiq.storage.base import Access, ApiRoot, Collection, Page, Principal, Store
from tansiq.taxii.media import TAXII_21, check_accept
from tansiq.taxii.settings import Settings

WWW_AUTHENTICATE = 'Basic realm="tansiq", Bearer realm="tansiq"'


@dataclass
class Services:
    settings: Settings
    store: Store
    directory: Directory
    auth: Authenticator
    audit: AuditLog


def access(svc: Services, principal: Principal, coll: Collection) -> Access:
    """The caller's view of a collection, enforced by the store's SQL."""
    return access_for(principal, coll, svc.directory.default_tlp())


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def taxii_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content, status_code=status, media_type=TAXII_21, headers=headers)


def error_response(exc: TansiqError) -> Response:
    body: dict[str, Any] = {
        "title": exc.title,
        "description": exc.message,
        "http_status": str(exc.http_status),
    }
    if exc.details:
        body["details"] = exc.details
    headers = {"WWW-Authenticate": WWW_AUTHENTICATE} if exc.http_status == 401 else None
    return taxii_response(body, exc.http_status, headers)


def begin(request: Request) -> tuple[Services, Principal]:
    """Negotiate the media type and authenticate the caller."""
    check_accept(request.headers.get("accept"))
    svc = services(request)
    svc.directory.refresh()
    principal = svc.auth.authenticate(request.headers.get("authorization"))
    return svc, principal


def require_user(principal: Principal) -> None:
    if principal.anonymous:
        raise AuthenticationError("authentication required")


def api_root(svc: Services, principal: Principal, name: str) -> ApiRoot:
    root = svc.directory.get_api_root(name)
    if root is None:
        if principal.anonymous:
            raise AuthenticationError("authentication required")
        raise NotFound(f"API root '{name}' not found")
    if principal.anonymous and not any(c.public for c in svc.directory.list_collections(name)):
        raise AuthenticationError("authentication required")
    return root


def collection(svc: Services, principal: Principal, root: str, collection_id: str) -> Collection:
    """The collection if the caller may know it exists; else 401 (anonymous) or 404."""
    found = svc.directory.get_collection(collection_id, root)
    if found is None or found.id != collection_id or not can_see(principal, found):
        if principal.anonymous:
            raise AuthenticationError("authentication required")
        raise NotFound(f"collection '{collection_id}' not found in API root '{root}'")
    return found


def require_read(principal: Principal, coll: Collection) -> None:
    if not can_read(principal, coll):
        raise PermissionDenied(f"no read access to collection '{coll.id}'")


def require_write(principal: Principal, coll: Collection) -> None:
    if principal.anonymous:
        raise AuthenticationError("authentication required to write")
    if not can_write(principal, coll):
        raise PermissionDenied(f"no write access to collection '{coll.id}'")


def date_headers(page: Page) -> dict[str, str]:
    if not page.rows:
        return {}
    return {
        "X-TAXII-Date-Added-First": page.rows[0].date_added,
        "X-TAXII-Date-Added-Last": page.rows[-1].date_added,
    }


def base_url(request: Request, svc: Services) -> str:
    if svc.settings.public_base_url:
        return svc.settings.public_base_url.rstrip("/")
    return str(request.base_url).rstrip("/")
