"""Server discovery (TAXII 2.1 section 4.1) and API root information (section 4.2)."""

from __future__ import annotations

import httpx
import pytest

from tansiq.access import admin
from tansiq.taxii.settings import Settings
from tests.conftest import LiveServer, open_database

from .conftest import ApiFactory
from .support import TAXII, Api, World, assert_error, assert_taxii_type


@pytest.mark.parametrize("scheme", ["bearer", "basic"])
def test_discovery_lists_every_api_root_to_a_user(
    api: ApiFactory, world: World, scheme: str
) -> None:
    r = api("alice", scheme=scheme).get("/taxii2/")
    assert r.status_code == 200
    assert_taxii_type(r)
    settings = Settings()
    assert r.json() == {
        "title": settings.title,
        "description": settings.description,
        "default": f"{world.url}/default/",
        "api_roots": [f"{world.url}/default/", f"{world.url}/second/"],
    }


def test_discovery_default_is_one_of_the_api_roots(alice: Api) -> None:
    body = alice.get("/taxii2/").json()
    assert body["default"] in body["api_roots"]  # section 4.1.1: MUST be an item of api_roots


def test_discovery_behind_a_proxy_advertises_the_public_https_urls(world: World) -> None:
    live = LiveServer(world.store, Settings(public_base_url="https://taxii.example.org/")).start()
    try:
        r = httpx.get(
            f"{live.url}/taxii2/",
            headers={"Accept": TAXII, "Authorization": f"Bearer {world.tokens['bob']}"},
        )
    finally:
        live.stop()
    assert r.status_code == 200
    body = r.json()
    assert body["api_roots"] == [
        "https://taxii.example.org/default/",
        "https://taxii.example.org/second/",
    ]
    assert body["default"] == "https://taxii.example.org/default/"


def test_anonymous_discovery_lists_only_roots_with_a_public_collection(
    api: ApiFactory, world: World
) -> None:
    r = api(None).get("/taxii2/")
    assert r.status_code == 200
    assert_taxii_type(r)
    body = r.json()
    assert body["api_roots"] == [f"{world.url}/default/"]
    assert body["default"] == f"{world.url}/default/"


def test_anonymous_discovery_without_any_public_collection_is_401(database: str) -> None:
    store = open_database(database)
    store.migrate()
    admin.ensure_api_root(store)
    admin.add_org(store, "Alpha CERT")
    admin.add_collection(store, "Closed", read=["Alpha CERT"])
    live = LiveServer(store).start()
    try:
        r = httpx.get(f"{live.url}/taxii2/", headers={"Accept": TAXII})
    finally:
        live.stop()
        store.close()
    assert_error(r, 401)
    assert r.headers.get("www-authenticate")


@pytest.mark.parametrize("user", ["alice", "bob", "rita", "root"])
def test_api_root_information(api: ApiFactory, user: str) -> None:
    r = api(user).get("/default/")
    assert r.status_code == 200
    assert_taxii_type(r)
    assert r.json() == {
        "title": "Tansiq API root 'default'",
        "versions": [TAXII],
        "max_content_length": 10 * 1024 * 1024,
    }


def test_second_api_root_information(alice: Api) -> None:
    r = alice.get("/second/")
    assert r.status_code == 200
    body = r.json()
    assert body["title"] == "Second API root"
    assert TAXII in body["versions"]  # section 4.2.1: MUST include the 2.1 media type
    assert isinstance(body["max_content_length"], int) and body["max_content_length"] > 0


def test_anonymous_api_root_with_a_public_collection(anon: Api) -> None:
    r = anon.get("/default/")
    assert r.status_code == 200
    assert r.json()["versions"] == [TAXII]


def test_anonymous_api_root_without_public_collection_is_401(anon: Api) -> None:
    r = anon.get("/second/")
    assert_error(r, 401)
    assert r.headers.get("www-authenticate")


def test_unknown_api_root_is_404(alice: Api) -> None:
    assert_error(alice.get("/nowhere/"), 404)
    assert_error(alice.get("/nowhere/collections/"), 404)
    assert_error(alice.get("/nowhere/status/0d5b0dc8-35a0-4f38-9fb5-4b8ae8a8c6b7/"), 404)


def test_unknown_api_root_anonymous_is_401(anon: Api) -> None:
    r = anon.get("/nowhere/")
    assert_error(r, 401)
    assert r.headers.get("www-authenticate")
