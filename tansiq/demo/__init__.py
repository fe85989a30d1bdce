"""A small demo data set and the set-up behind ``tansiq demo``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tansiq.access import admin
from tansiq.access.credentials import hash_password
from tansiq.ingest.bundle import ImportReport, import_file
from tansiq.storage.base import Store

DEMO_ORG = "Demo CERT"
DEMO_USER = "demo-analyst"
DEMO_ALIAS = "demo"


@dataclass(frozen=True)
class DemoCredentials:
    user: str
    password: str
    token: str
    collection_id: str
    report: ImportReport


def bundle_path() -> Path:
    return Path(str(resources.files("tansiq.demo").joinpath("demo-bundle.json")))


def set_up(store: Store) -> DemoCredentials:
    """Create (or refresh) the demo organisation, user and collection; load the demo data.

    Each call issues a fresh random password and token for the demo user: there are no
    default credentials.
    """
    store.migrate()
    admin.ensure_api_root(store)
    org = store.get_org(DEMO_ORG) or admin.add_org(store, DEMO_ORG)
    password = secrets.token_urlsafe(12)
    existing = store.get_user(DEMO_USER)
    if existing is None:
        created = admin.add_user(store, DEMO_USER, DEMO_ORG, "analyst", password, "demo")
        token = created.token
    else:
        store.set_user_password_hash(existing.id, hash_password(password))
        token, _ = admin.issue_token(store, DEMO_USER, label="demo")
    coll = store.get_collection(DEMO_ALIAS, admin.DEFAULT_API_ROOT)
    if coll is None:
        coll = admin.add_collection(
            store,
            "Demo threat intelligence",
            alias=DEMO_ALIAS,
            description="Fictitious example data loaded by 'tansiq demo'",
            read=[DEMO_ORG],
            write=[DEMO_ORG],
        )
    principal = admin.principal(store, DEMO_USER)
    assert org is not None
    report = import_file(store, coll.id, principal, bundle_path())
    return DemoCredentials(DEMO_USER, password, token, coll.id, report)
