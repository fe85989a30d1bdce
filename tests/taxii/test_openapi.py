"""The OpenAPI document served at /openapi.json describes every route of the app."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from tansiq.taxii.app import ROUTES

from .support import World

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def document(world: World) -> dict[str, Any]:
    r = httpx.get(f"{world.url}/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    doc: dict[str, Any] = r.json()
    return doc


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def app_routes() -> list[Route]:
    return [r for r in ROUTES if isinstance(r, Route) and r.path != "/openapi.json"]


def test_document_is_openapi_3(document: dict[str, Any]) -> None:
    assert re.fullmatch(r"3\.\d+\.\d+", document["openapi"]), document["openapi"]
    assert isinstance(document["info"]["title"], str) and document["info"]["title"]
    assert isinstance(document["info"]["version"], str) and document["info"]["version"]
    assert isinstance(document["paths"], dict) and document["paths"]


def test_every_route_and_method_is_documented(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for route in app_routes():
        assert route.path in paths, route.path
        methods = {m.lower() for m in (route.methods or set())} - {"head"}
        assert methods, route.path
        for method in methods:
            assert method in paths[route.path], f"{method.upper()} {route.path} undocumented"


def test_nothing_documented_that_the_app_does_not_serve(document: dict[str, Any]) -> None:
    served: dict[str, set[str]] = {}
    for route in app_routes():
        served.setdefault(route.path, set()).update(m.lower() for m in route.methods or ())
    for path, item in document["paths"].items():
        assert path in served, f"{path} is documented but not served"
        for method in set(item) & METHODS:
            assert method in served[path], f"{method.upper()} {path} is documented but not served"


def test_operations_are_well_formed(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        template_params = set(re.findall(r"{([^}]+)}", path))
        for method in set(item) & METHODS:
            op = item[method]
            params = [
                resolve(document, p["$ref"]) if "$ref" in p else p for p in op.get("parameters", [])
            ]
            keys = [(p["name"], p["in"]) for p in params]
            assert len(keys) == len(set(keys)), f"duplicate parameter in {method} {path}"
            declared = {p["name"] for p in params if p["in"] == "path"}
            assert declared == template_params, (method, path, declared)
            for p in params:
                assert p["in"] in ("path", "query", "header", "cookie")
                if p["in"] == "path":
                    assert p["required"] is True, (path, p["name"])
                assert "schema" in p or "content" in p, (path, p["name"])
            responses = op["responses"]
            assert any(code.startswith("2") for code in responses), (method, path)
            for code, response in responses.items():
                assert re.fullmatch(r"[1-5](\d\d|XX)|default", code), code
                response = resolve(document, response["$ref"]) if "$ref" in response else response
                assert isinstance(response.get("description"), str), (method, path, code)


def test_taxii_operations_document_their_media_type_and_filters(document: dict[str, Any]) -> None:
    paths = document["paths"]
    objects = paths["/{api_root}/collections/{collection_id}/objects/"]
    listing = {p["name"] for p in objects["get"]["parameters"] if p["in"] == "query"}
    assert {
        "added_after",
        "limit",
        "next",
        "match[id]",
        "match[type]",
        "match[version]",
        "match[spec_version]",
    } <= listing
    assert "application/taxii+json;version=2.1" in objects["post"]["requestBody"]["content"]
    assert "202" in objects["post"]["responses"]
    for code in ("400", "401", "403", "404", "406", "413", "415"):
        assert code in objects["post"]["responses"], code


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    for ref in refs(document):
        resolve(document, ref)


def test_security_schemes_match_what_the_server_accepts(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    kinds = {(s["type"], s.get("scheme", "").lower()) for s in schemes.values()}
    assert {("http", "basic"), ("http", "bearer")} <= kinds
    for requirement in document.get("security", []):
        for name in requirement:
            assert name in schemes, name
