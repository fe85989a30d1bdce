"""The server driven by OASIS's own client, taxii2-client (``taxii2client.v21``), over HTTP
Basic (user/password) and over a Bearer token (a ``requests`` auth object)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import requests.auth
from taxii2client.exceptions import AccessError
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from tansiq.taxii.settings import Settings
from tests.conftest import PASSWORD

from .conftest import Api
from .support import (
    TAXII,
    TLP_CLEAR,
    World,
    invalid_indicator,
    ipv4,
    sdo,
    taxii_time,
    version_of,
)


class BearerAuth(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


def credentials(world: World, user: str, scheme: str) -> dict[str, Any]:
    if scheme == "basic":
        return {"user": user, "password": PASSWORD}
    return {"auth": BearerAuth(world.tokens[user])}


@pytest.fixture(params=["basic", "bearer"])
def scheme(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def collection(world: World, scheme: str) -> Iterator[Collection]:
    url = f"{world.url}/default/collections/{world.collections['shared']}/"
    coll = Collection(url, **credentials(world, "alice", scheme))
    yield coll
    coll.close()


def open_collection(
    world: World, user: str | None, alias: str, scheme: str = "basic"
) -> Collection:
    root = "second" if alias == "other-root" else "default"
    url = f"{world.url}/{root}/collections/{world.collections[alias]}/"
    if user is None:
        return Collection(url)
    return Collection(url, **credentials(world, user, scheme))


# --------------------------------------------------------------------------- discovery


def test_server_discovery(world: World, scheme: str) -> None:
    server = Server(f"{world.url}/taxii2/", **credentials(world, "alice", scheme))
    try:
        settings = Settings()
        assert server.title == settings.title
        assert server.description == settings.description
        assert server.contact is None
        urls = [r.url for r in server.api_roots]
        assert urls[:2] == [f"{world.url}/default/", f"{world.url}/second/"]
        assert server.default is not None
        assert server.default.url == f"{world.url}/default/"
    finally:
        server.close()


def test_api_root_and_its_collections(world: World, scheme: str) -> None:
    server = Server(f"{world.url}/taxii2/", **credentials(world, "alice", scheme))
    try:
        root = server.default
        assert isinstance(root, ApiRoot)
        assert root.title == "Tansiq API root 'default'"
        assert root.versions == [TAXII]
        assert root.max_content_length == 10 * 1024 * 1024
        found = {c.id: c for c in root.collections}
        expect = {
            "shared": (True, True),
            "alpha-only": (True, True),
            "write-only": (False, True),
            "public": (True, True),
        }
        for alias, (can_read, can_write) in expect.items():
            c = found[world.collections[alias]]
            assert (c.can_read, c.can_write) == (can_read, can_write), alias
            assert c.media_types == ["application/stix+json;version=2.1"]
        assert world.collections["other-root"] not in found
    finally:
        server.close()


def test_anonymous_client_sees_the_public_root_only(world: World, alice: Api) -> None:
    obj = sdo("indicator", marking=TLP_CLEAR)
    alice.add("public", [obj])
    server = Server(f"{world.url}/taxii2/")
    try:
        assert [r.url for r in server.api_roots] == [f"{world.url}/default/"]
    finally:
        server.close()
    coll = open_collection(world, None, "public")
    try:
        assert (coll.can_read, coll.can_write) == (True, False)
        assert coll.get_objects()["objects"] == [obj]
        with pytest.raises(AccessError):
            coll.add_objects({"objects": [sdo()]})
    finally:
        coll.close()


# --------------------------------------------------------------------------- objects


def test_add_objects_returns_a_complete_status(collection: Collection, world: World) -> None:
    objs = [sdo("malware"), sdo("indicator"), ipv4("192.0.2.77")]
    bad = invalid_indicator()
    status = collection.add_objects(
        {"objects": world.authored("alice", [*objs, bad])},
        wait_for_completion=True,
        poll_interval=0.1,
    )
    assert status.status == "complete"
    assert bool(status) is True
    assert (
        status.total_count,
        status.success_count,
        status.failure_count,
        status.pending_count,
    ) == (4, 3, 1, 0)
    assert {s["id"] for s in status.successes} == {o["id"] for o in objs}
    assert [f["id"] for f in status.failures] == [bad["id"]]
    assert status.pendings == []
    assert collection.get_objects()["objects"] == objs


def test_add_objects_without_waiting(collection: Collection, world: World) -> None:
    obj = sdo("campaign")
    status = collection.add_objects(
        {"objects": world.authored("alice", [obj])}, wait_for_completion=False
    )
    assert status.status == "complete"
    assert status.success_count == 1
    status.refresh()  # GET on the status URL the client derives from the collection URL
    assert status.status == "complete" and status.success_count == 1


def test_get_status_from_the_api_root(world: World, collection: Collection, scheme: str) -> None:
    posted = collection.add_objects(
        {"objects": world.authored("alice", [sdo("malware"), invalid_indicator()])}
    )
    root = ApiRoot(f"{world.url}/default/", **credentials(world, "alice", scheme))
    try:
        status = root.get_status(posted.id)
        assert status.id == posted.id
        assert status.status == "complete"
        assert (status.total_count, status.success_count, status.failure_count) == (2, 1, 1)
        assert status.successes == posted.successes
        assert status.failures == posted.failures
        assert status.request_timestamp == posted.request_timestamp
    finally:
        root.close()


def test_get_objects_with_filters(collection: Collection, world: World) -> None:
    m = sdo("malware")
    m2 = version_of(m, 30, name="second")
    ind = sdo("indicator")
    collection.add_objects({"objects": world.authored("alice", [m, ind])})
    collection.add_objects({"objects": world.authored("alice", [m2])})
    assert collection.get_objects()["objects"] == [ind, m2]
    assert collection.get_objects(type="malware")["objects"] == [m2]
    assert collection.get_objects(type=["malware", "indicator"], version="all")["objects"] == [
        m,
        ind,
        m2,
    ]
    assert collection.get_objects(id=m["id"], version="first")["objects"] == [m]
    assert collection.get_objects(spec_version="2.1")["objects"] == [ind, m2]
    envelope = collection.get_objects(limit=1)
    assert envelope["more"] is True and envelope["objects"] == [ind]


def test_as_pages(collection: Collection, world: World) -> None:
    objs = [sdo("malware", name=f"m{i}") for i in range(5)]
    collection.add_objects({"objects": world.authored("alice", objs)})
    pages = list(as_pages(collection.get_objects, per_request=2))
    assert [len(p["objects"]) for p in pages] == [2, 2, 1]
    assert [o for p in pages for o in p["objects"]] == objs
    manifests = list(as_pages(collection.get_manifest, per_request=3))
    assert [[r["id"] for r in p["objects"]] for p in manifests] == [
        [o["id"] for o in objs[:3]],
        [o["id"] for o in objs[3:]],
    ]


def test_get_manifest_and_added_after(collection: Collection, world: World) -> None:
    objs = [sdo("malware", name=f"m{i}") for i in range(4)]
    collection.add_objects({"objects": world.authored("alice", objs)})
    records = collection.get_manifest()["objects"]
    assert [r["id"] for r in records] == [o["id"] for o in objs]
    assert [r["version"] for r in records] == [o["modified"] for o in objs]
    cut = taxii_time(records[1]["date_added"])  # a datetime: the client formats it
    later = collection.get_manifest(added_after=cut)["objects"]
    assert later == records[2:]
    assert collection.get_objects(added_after=cut)["objects"] == objs[2:]


def test_get_object_and_versions(collection: Collection, world: World) -> None:
    v1 = sdo("indicator")
    v2 = version_of(v1, 10, name="v2")
    collection.add_objects({"objects": world.authored("alice", [v1, v2])})
    assert collection.get_object(v1["id"]) == {"more": False, "objects": [v2]}
    assert collection.get_object(v1["id"], version="all")["objects"] == [v1, v2]
    assert collection.get_object(v1["id"], version=v1["modified"])["objects"] == [v1]
    assert collection.object_versions(v1["id"]) == {
        "more": False,
        "versions": [v1["modified"], v2["modified"]],
    }


def test_delete_object(collection: Collection, world: World) -> None:
    keep = sdo("malware")
    gone = sdo("malware")
    collection.add_objects({"objects": world.authored("alice", [keep, gone])})
    assert collection.delete_object(gone["id"]) is None
    with pytest.raises(requests.HTTPError) as info:
        collection.get_object(gone["id"])
    assert info.value.response.status_code == 404
    assert collection.get_objects()["objects"] == [keep]


def test_delete_one_version(collection: Collection, world: World) -> None:
    v1 = sdo("malware")
    v2 = version_of(v1, 5)
    collection.add_objects({"objects": world.authored("alice", [v1, v2])})
    collection.delete_object(v1["id"], version=v2["modified"])
    assert collection.object_versions(v1["id"])["versions"] == [v1["modified"]]


# --------------------------------------------------------------------------- permissions


def test_reader_cannot_write(world: World) -> None:
    coll = open_collection(world, "rita", "shared")
    try:
        assert (coll.can_read, coll.can_write) == (True, False)
        with pytest.raises(AccessError):
            coll.add_objects({"objects": [sdo()]})
    finally:
        coll.close()


def test_server_refuses_a_client_that_believes_it_may_write(world: World, alice: Api) -> None:
    url = f"{world.url}/default/collections/{world.collections['shared']}/"
    info = {"id": world.collections["shared"], "title": "x", "can_read": True, "can_write": True}
    coll = Collection(url, user="bob", password=PASSWORD, collection_info=info)
    try:
        with pytest.raises(requests.HTTPError) as caught:
            coll.add_objects({"objects": [sdo()]})
        assert caught.value.response.status_code == 403
        obj = sdo("malware")
        alice.add("shared", [obj])
        with pytest.raises(requests.HTTPError) as caught:
            coll.delete_object(obj["id"])
        assert caught.value.response.status_code == 403
    finally:
        coll.close()


def test_write_only_collection_through_the_client(world: World, root: Api) -> None:
    coll = open_collection(world, "alice", "write-only", "bearer")
    try:
        assert (coll.can_read, coll.can_write) == (False, True)
        obj = sdo("malware")
        assert coll.add_objects({"objects": world.authored("alice", [obj])}).success_count == 1
        with pytest.raises(AccessError):
            coll.get_objects()
    finally:
        coll.close()
    assert root.objects("write-only") == [obj]


def test_collection_not_granted_is_404_for_the_client(world: World) -> None:
    coll = open_collection(world, "bob", "alpha-only")
    try:
        with pytest.raises(requests.HTTPError) as caught:
            coll.refresh()
        assert caught.value.response.status_code == 404
    finally:
        coll.close()


def test_wrong_password_is_401_for_the_client(world: World) -> None:
    server = Server(f"{world.url}/taxii2/", user="alice", password="not the password")
    try:
        with pytest.raises(requests.HTTPError) as caught:
            server.refresh()
        assert caught.value.response.status_code == 401
        assert caught.value.response.headers["WWW-Authenticate"]
    finally:
        server.close()


def test_second_api_root_through_the_client(world: World) -> None:
    coll = open_collection(world, "alice", "other-root", "bearer")
    try:
        obj = sdo("malware")
        assert coll.add_objects({"objects": world.authored("alice", [obj])}).success_count == 1
        assert coll.get_objects()["objects"] == [obj]
    finally:
        coll.close()
