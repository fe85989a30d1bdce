"""The OpenAPI 3.1 document of the TAXII 2.1 API this server implements."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tansiq import __version__
from tansiq.taxii.media import TAXII_21

_ERRORS = {
    "400": "Bad request: malformed filter, body or next token",
    "401": "Authentication required",
    "403": "No read (GET) or write (POST, DELETE) access to this collection",
    "404": "Not found, or not visible to the caller",
    "406": "The Accept header does not admit application/taxii+json;version=2.1",
}


def _param(
    name: str, where: str = "query", required: bool = False, desc: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required,
        "description": desc,
        "schema": {"type": "string"},
    }


_PATH = {
    "api_root": _param("api_root", "path", True, "API root name"),
    "collection_id": _param("collection_id", "path", True, "collection id (UUID)"),
    "object_id": _param("object_id", "path", True, "STIX identifier"),
    "status_id": _param("status_id", "path", True, "status id"),
}
_FILTERS = {
    "added_after": _param("added_after", desc="only versions added after this timestamp"),
    "limit": {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1},
    },
    "next": _param("next", desc="opaque paging token from a previous response"),
    "match[id]": _param("match[id]", desc="comma-separated STIX ids"),
    "match[type]": _param("match[type]", desc="comma-separated STIX types"),
    "match[version]": _param("match[version]", desc="first, last, all or timestamps"),
    "match[spec_version]": _param("match[spec_version]", desc="e.g. 2.1"),
}


def _op(summary: str, params: list[str], ok: str = "200", body: bool = False) -> dict[str, Any]:
    parameters = [_PATH[p] if p in _PATH else _FILTERS[p] for p in params]
    responses: dict[str, Any] = {
        ok: {"description": "Success", "content": {TAXII_21: {"schema": {"type": "object"}}}}
    }
    for code, desc in _ERRORS.items():
        responses[code] = {
            "description": desc,
            "content": {TAXII_21: {"schema": {"$ref": "#/components/schemas/error"}}},
        }
    op: dict[str, Any] = {"summary": summary, "parameters": parameters, "responses": responses}
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {TAXII_21: {"schema": {"$ref": "#/components/schemas/envelope"}}},
        }
        responses["413"] = {"description": "Body larger than max_content_length"}
        responses["415"] = {"description": "Content-Type is not application/taxii+json;version=2.1"}
        responses["422"] = {"description": "Unprocessable content"}
    return op


def document() -> dict[str, Any]:
    listing = [
        "added_after",
        "limit",
        "next",
        "match[id]",
        "match[type]",
        "match[version]",
        "match[spec_version]",
    ]
    coll = ["api_root", "collection_id"]
    obj = [*coll, "object_id"]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tansiq TAXII 2.1 API", "version": __version__},
        "components": {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {
                "error": {
                    "type": "object",
                    "required": ["title"],
                    "properties": {
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "http_status": {"type": "string"},
                    },
                },
                "envelope": {
                    "type": "object",
                    "properties": {"objects": {"type": "array", "items": {"type": "object"}}},
                },
            },
        },
        "security": [{"basic": []}, {"bearer": []}],
        "paths": {
            "/taxii2/": {"get": _op("Server discovery", [])},
            "/{api_root}/": {"get": _op("API root information", ["api_root"])},
            "/{api_root}/status/{status_id}/": {
                "get": _op("Status of a POST", ["api_root", "status_id"])
            },
            "/{api_root}/collections/": {"get": _op("Collections", ["api_root"])},
            "/{api_root}/collections/{collection_id}/": {"get": _op("One collection", coll)},
            "/{api_root}/collections/{collection_id}/objects/": {
                "get": _op("Get objects", coll + listing),
                "post": _op("Add objects", coll, ok="202", body=True),
            },
            "/{api_root}/collections/{collection_id}/objects/{object_id}/": {
                "get": _op(
                    "Get an object",
                    obj + ["added_after", "limit", "next", "match[version]", "match[spec_version]"],
                ),
                "delete": _op("Delete an object", obj + ["match[version]", "match[spec_version]"]),
            },
            "/{api_root}/collections/{collection_id}/objects/{object_id}/versions/": {
                "get": _op(
                    "Versions of an object",
                    obj + ["added_after", "limit", "next", "match[spec_version]"],
                )
            },
            "/{api_root}/collections/{collection_id}/manifest/": {
                "get": _op("Manifest", coll + listing)
            },
            "/healthz": {
                "get": {
                    "summary": "Health: the process serves and its database answers",
                    "security": [],
                    "parameters": [],
                    "responses": {
                        "200": {"description": 'Healthy: {"status": "ok"}'},
                        "503": {"description": "The database does not answer"},
                    },
                }
            },
        },
    }


async def openapi_document(request: Request) -> Response:
    import orjson

    return Response(orjson.dumps(document()), media_type="application/json")
