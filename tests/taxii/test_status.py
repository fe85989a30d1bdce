"""Get status (TAXII 2.1 section 4.3): lifetime, owner-only visibility, 404s."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

from tansiq.clock import to_text, utc_now

from .conftest import Api, ApiFactory
from .support import (
    TAXII_TIMESTAMP,
    UUID4,
    World,
    assert_error,
    assert_taxii_type,
    invalid_indicator,
    sdo,
    taxii_time,
)


def posted(alice: Api, alias: str = "shared") -> dict[str, object]:
    return alice.add(alias, [sdo("malware"), sdo("indicator"), invalid_indicator()])


def test_owner_gets_the_status(alice: Api) -> None:
    status = posted(alice)
    r = alice.get(f"/default/status/{status['id']}/")
    assert r.status_code == 200
    assert_taxii_type(r)
    body = r.json()
    assert body == status
    assert UUID4.match(body["id"])
    assert body["status"] == "complete"
    assert TAXII_TIMESTAMP.match(body["request_timestamp"])
    assert (body["total_count"], body["success_count"], body["failure_count"]) == (3, 2, 1)
    assert body["pending_count"] == 0
    assert body["total_count"] == (
        body["success_count"] + body["failure_count"] + body["pending_count"]
    )


def test_owner_with_basic_auth_gets_the_status(alice: Api, api: ApiFactory) -> None:
    status = posted(alice)
    basic = api("alice", scheme="basic")
    r = basic.get(f"/default/status/{status['id']}/")
    assert r.status_code == 200
    assert r.json() == status


def test_even_an_admin_does_not_get_another_users_status(alice: Api, root: Api) -> None:
    """A status names ids and versions; an admin may not be a TLP:RED recipient of them."""
    status = posted(alice)
    r = root.get(f"/default/status/{status['id']}/")
    assert_error(r, 404)


@pytest.mark.parametrize("user", ["bob", "rita"])
def test_other_users_get_404(alice: Api, api: ApiFactory, user: str) -> None:
    status = posted(alice)
    other = api(user)
    hidden = other.get(f"/default/status/{status['id']}/")
    unknown = other.get(f"/default/status/{uuid.uuid4()}/")
    assert_error(hidden, 404)
    assert_error(unknown, 404)
    assert hidden.json()["title"] == unknown.json()["title"]


def test_anonymous_gets_401(alice: Api, anon: Api) -> None:
    status = posted(alice, "public")
    r = anon.get(f"/default/status/{status['id']}/")
    assert_error(r, 401)
    assert r.headers.get("www-authenticate")


def test_unknown_status_is_404(alice: Api) -> None:
    assert_error(alice.get(f"/default/status/{uuid.uuid4()}/"), 404)
    assert_error(alice.get("/default/status/not-a-uuid/"), 404)


def test_status_is_bound_to_its_api_root(alice: Api) -> None:
    status = posted(alice, "other-root")
    assert alice.get(f"/second/status/{status['id']}/").status_code == 200
    assert_error(alice.get(f"/default/status/{status['id']}/"), 404)


def test_status_lives_at_least_24_hours(alice: Api, world: World) -> None:
    status = posted(alice)
    record = world.store.get_status("default", str(status["id"]))
    assert record is not None
    requested = taxii_time(str(status["request_timestamp"]))
    assert taxii_time(record.expires) >= requested + timedelta(hours=24)
    # a sweep a day later keeps it, and it is still served
    world.store.expire_statuses(to_text(utc_now() + timedelta(hours=23, minutes=59)))
    r = alice.get(f"/default/status/{status['id']}/")
    assert r.status_code == 200
    assert r.json() == status


def test_expired_status_is_404(alice: Api, world: World) -> None:
    status = posted(alice)
    record = world.store.get_status("default", str(status["id"]))
    assert record is not None
    world.store.save_status(replace(record, expires=to_text(utc_now() - timedelta(seconds=1))))
    assert_error(alice.get(f"/default/status/{status['id']}/"), 404)


def test_swept_status_is_404(alice: Api, world: World) -> None:
    status = posted(alice)
    record = world.store.get_status("default", str(status["id"]))
    assert record is not None
    world.store.expire_statuses(to_text(utc_now() + timedelta(days=400)))
    assert_error(alice.get(f"/default/status/{status['id']}/"), 404)


def test_each_post_gets_its_own_status(alice: Api) -> None:
    ids = {posted(alice)["id"] for _ in range(3)}
    assert len(ids) == 3
    for sid_ in ids:
        assert alice.get(f"/default/status/{sid_}/").status_code == 200
