"""Run a paged query for a caller: filters, ``next`` tokens, envelope bytes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from starlette.requests import Request

from tansiq.access.audit import event as audit_event
from tansiq.errors import InvalidInput
from tansiq.storage.base import Collection, Page, Principal, Query
from tansiq.taxii import context, paging
from tansiq.taxii.filters import ALL_FILTERS, parse_query


def paged_query(
    request: Request,
    svc: context.Services,
    principal: Principal,
    coll: Collection,
    *,
    allow: Iterable[str] = ALL_FILTERS,
    object_id: str | None = None,
    all_versions: bool = False,
    kind: str = "objects",
) -> tuple[Query, Page, str | None]:
    params = list(request.query_params.multi_items())
    query = parse_query(
        params,
        coll.id,
        default_limit=svc.settings.default_page_size,
        max_limit=svc.settings.max_page_size,
        allow=allow,
        object_id=object_id,
        all_versions=all_versions,
    )
    query = replace(query, access=context.access(svc, principal, coll))
    filters = f"{kind}|{query.filter_fingerprint()}"
    secret = svc.store.instance_secret()
    tokens = request.query_params.getlist("next")
    if len(tokens) > 1:
        raise InvalidInput("filter 'next' is given more than once")
    token = tokens[0] if tokens else None
    if token is not None:
        query = replace(query, after=paging.decode(secret, principal.key, filters, token))
    page = svc.store.query(query)
    svc.audit.record(
        audit_event(
            principal,
            f"{kind}.read",
            coll.id,
            filters={k: v for k, v in params if k != "next"},
            **({"object": object_id} if object_id else {}),
            paged=token is not None,
            returned=len(page.rows),
        )
    )
    next_token = None
    if page.more and page.next_position is not None:
        next_token = paging.encode(secret, principal.key, filters, page.next_position)
    return query, page, next_token


def envelope_bytes(page: Page, next_token: str | None) -> bytes:
    """A TAXII envelope built from the stored JSON bytes without re-serialising them."""
    head = b'{"more":true' if page.more else b'{"more":false'
    if next_token is not None:
        head += b',"next":"' + next_token.encode() + b'"'
    if not page.rows:
        return head + b"}"
    return head + b',"objects":[' + b",".join(r.json for r in page.rows) + b"]}"
