"""Objects (/{root}/collections/{id}/objects/): GET and POST; one object: GET and DELETE;
its versions (/objects/{object_id}/versions/)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tansiq.access.audit import event as audit_event
from tansiq.access.permissions import can_read
from tansiq.access.policy import writer_context
from tansiq.clock import now_text, to_text, utc_now
from tansiq.errors import InvalidInput, NotFound, PayloadTooLarge, PermissionDenied
from tansiq.ingest.bundle import write_objects
from tansiq.storage.base import (
    Collection,
    Principal,
    Query,
    StatusRecord,
    VersionFilter,
    WriteResult,
)
from tansiq.taxii import context
from tansiq.taxii.filters import _ID, parse_spec_versions, parse_versions
from tansiq.taxii.listing import envelope_bytes, paged_query
from tansiq.taxii.media import check_content_type

OBJECT_FILTERS = ("added_after", "limit", "next", "match[version]", "match[spec_version]")
VERSIONS_FILTERS = ("added_after", "limit", "next", "match[spec_version]")


def _collection(request: Request) -> tuple[context.Services, Principal, Collection]:
    svc, principal = context.begin(request)
    root = context.api_root(svc, principal, request.path_params["api_root"])
    coll = context.collection(svc, principal, root.name, request.path_params["collection_id"])
    return svc, principal, coll


async def get_objects(request: Request) -> Response:
    svc, principal, coll = _collection(request)
    context.require_read(principal, coll)
    _, page, token = paged_query(request, svc, principal, coll)
    return context.taxii_response(envelope_bytes(page, token), headers=context.date_headers(page))


def _object_id(request: Request) -> str:
    object_id: str = request.path_params["object_id"]
    if not _ID.match(object_id):
        raise NotFound(f"object '{object_id}' not found")
    return object_id


def _exists(svc: context.Services, principal: Principal, coll: Collection, object_id: str) -> bool:
    """Whether the caller can see any version of the object (hidden == missing)."""
    page = svc.store.query(
        Query(
            collection_id=coll.id,
            ids=(object_id,),
            limit=1,
            versions=VersionFilter(all=True, last=False),
            access=context.access(svc, principal, coll),
        )
    )
    return bool(page.rows)


async def get_object(request: Request) -> Response:
    svc, principal, coll = _collection(request)
    context.require_read(principal, coll)
    object_id = _object_id(request)
    query, page, token = paged_query(
        request, svc, principal, coll, allow=OBJECT_FILTERS, object_id=object_id, kind="object"
    )
    if not page.rows and query.after is None:
        raise NotFound(f"object '{object_id}' not found in collection '{coll.id}'")
    return context.taxii_response(envelope_bytes(page, token), headers=context.date_headers(page))


async def get_versions(request: Request) -> Response:
    svc, principal, coll = _collection(request)
    context.require_read(principal, coll)
    object_id = _object_id(request)
    query, page, token = paged_query(
        request,
        svc,
        principal,
        coll,
        allow=VERSIONS_FILTERS,
        object_id=object_id,
        all_versions=True,
        kind="versions",
    )
    if not page.rows and query.after is None and not _exists(svc, principal, coll, object_id):
        raise NotFound(f"object '{object_id}' not found in collection '{coll.id}'")
    body: dict[str, Any] = {"more": page.more}
    if token:
        body["next"] = token
    if page.rows:
        body["versions"] = [r.version for r in page.rows]
    return context.taxii_response(body, headers=context.date_headers(page))


async def delete_object(request: Request) -> Response:
    """Delete versions of an object. Only versions the caller can see exist for it; of
    those, only its own organisation's (or, for an admin, any) may be deleted."""
    svc, principal, coll = _collection(request)
    object_id = _object_id(request)
    params = list(request.query_params.multi_items())
    for key, _ in params:
        if key.startswith("match[") and key not in ("match[version]", "match[spec_version]"):
            raise InvalidInput(f"filter '{key}' is not supported on this endpoint")
    versions = parse_versions(params, default_last=False)
    spec_versions = parse_spec_versions(params)
    # deleting needs both rights (checked before existence, so nothing is revealed)
    context.require_write(principal, coll)
    if not can_read(principal, coll):
        raise PermissionDenied(
            f"no read access to collection '{coll.id}': deleting needs read and write"
        )
    if not _exists(svc, principal, coll, object_id):
        raise NotFound(f"object '{object_id}' not found in collection '{coll.id}'")
    user = principal.user
    assert user is not None
    creator_org = None if user.role == "admin" else user.org_id
    view = context.access(svc, principal, coll)
    deleted = await run_in_threadpool(
        lambda: svc.store.delete_object(
            coll.id,
            object_id,
            versions,
            spec_versions,
            access=view,
            creator_org=creator_org,
            audit=audit_event(principal, "object.delete", coll.id, filters=dict(params)),
        )
    )
    if deleted == 0:
        # visible, but nothing matching that this caller may delete
        mine = svc.store.query(
            Query(
                collection_id=coll.id,
                ids=(object_id,),
                versions=versions,
                spec_versions=spec_versions,
                limit=1,
                access=view,
            )
        )
        if mine.rows:
            raise PermissionDenied(
                f"only the organisation that created '{object_id}' may delete its versions"
            )
        raise NotFound(f"object '{object_id}' has no version matching the filters")
    return Response(b"", status_code=200, media_type=context.TAXII_21)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidInput("Content-Length header is not a number")
        if int(declared) > limit:
            raise PayloadTooLarge(
                f"request body of {declared} bytes exceeds max_content_length {limit}"
            )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds max_content_length {limit}")
        chunks.append(chunk)
    return b"".join(chunks)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)
    return dict(pairs)


def _refuse_duplicate_keys(body: bytes) -> None:
    """JSON objects with a repeated key are ambiguous (parsers keep the first or the last
    value): refuse them rather than guess."""
    try:
        json.loads(body, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        raise InvalidInput(
            f"the request body repeats the key '{exc.args[0]}' in one JSON object"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}") from exc


def _envelope_objects(body: bytes) -> list[Any]:
    if not body.strip():
        raise InvalidInput('the request body is empty; send a TAXII envelope {"objects": [...]}')
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}") from exc
    _refuse_duplicate_keys(body)
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a TAXII envelope (a JSON object)")
    objects = data.get("objects")
    if objects is None:
        raise InvalidInput("the TAXII envelope has no 'objects' property")
    if not isinstance(objects, list):
        raise InvalidInput("the TAXII envelope property 'objects' must be a list")
    return objects


def status_record(
    root: str, principal: Principal, results: list[WriteResult], ttl_seconds: int
) -> StatusRecord:
    now = utc_now()
    successes: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for r in results:
        entry: dict[str, Any] = {"id": r.id or "", "version": r.version or ""}
        if r.ok:
            if r.outcome == "unchanged":
                entry["message"] = "already stored (identical version)"
            successes.append(entry)
        else:
            entry["message"] = (
                f"object {r.index}: {r.message}" if r.message else f"object {r.index}"
            )
            failures.append(entry)
    return StatusRecord(
        id=str(uuid.uuid4()),
        api_root=root,
        owner=principal.key,
        status="complete",
        request_timestamp=to_text(now),
        total_count=len(results),
        success_count=len(successes),
        failure_count=len(failures),
        pending_count=0,
        successes=successes,
        failures=failures,
        pendings=[],
        expires=to_text(now + timedelta(seconds=ttl_seconds)),
    )


async def add_objects(request: Request) -> Response:
    svc, principal, coll = _collection(request)
    context.require_write(principal, coll)
    check_content_type(request.headers.get("content-type"))
    root = svc.directory.get_api_root(coll.api_root)
    limit = root.max_content_length if root else 10 * 1024 * 1024
    body = await _read_body(request, limit)
    objects = _envelope_objects(body)

    view = context.access(svc, principal, coll)
    writer = writer_context(svc.directory, principal)
    audit = audit_event(principal, "objects.write", coll.id, via="taxii")

    # what a partner instance pushes is provenance-marked as received (one-hop rule)
    peer = f"sync:{principal.user.name}" if writer.sync and principal.user else None

    def work() -> StatusRecord:
        results = write_objects(
            svc.store,
            coll.id,
            principal,
            objects,
            writer=writer,
            access=view,
            audit=audit,
            peer=peer,
        )
        status = status_record(coll.api_root, principal, results, svc.settings.status_ttl_seconds)
        svc.store.save_status(status)
        return status

    status = await run_in_threadpool(work)
    return context.taxii_response(status.to_taxii(), status=202)


async def objects_endpoint(request: Request) -> Response:
    """GET or POST on /objects/ (one route, so that 405 names every allowed method)."""
    if request.method == "POST":
        return await add_objects(request)
    return await get_objects(request)


async def object_endpoint(request: Request) -> Response:
    if request.method == "DELETE":
        return await delete_object(request)
    return await get_object(request)


async def get_status(request: Request) -> Response:
    svc, principal = context.begin(request)
    context.require_user(principal)
    root = context.api_root(svc, principal, request.path_params["api_root"])
    status_id = request.path_params["status_id"]
    found = svc.store.get_status(root.name, status_id)
    # only its author sees a status: it names ids and versions, and even an admin's view
    # of objects is limited (TLP:RED recipients)
    if found is None or found.expires < now_text() or found.owner != principal.key:
        raise NotFound(f"status '{status_id}' not found")
    return context.taxii_response(found.to_taxii())
