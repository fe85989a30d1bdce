"""Run the real ``tansiq`` command in a subprocess, as a user would, on every backend.

``tansiq`` runs the command against a blank database of the backend under test (a SQLite
file that does not exist yet, or an empty PostgreSQL database: what an operator has before
``tansiq init``); ``--database`` gets its location, a file path or a ``postgresql://`` URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Backend


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run(argv: list[str], input: str | None = None, **env: str) -> Result:
    """``python -m tansiq ARGV`` without TANSIQ_DATABASE from the caller's environment
    (unless given in ``env``)."""
    environ = {k: v for k, v in os.environ.items() if k != "TANSIQ_DATABASE"}
    environ.update(env)
    proc = subprocess.run(
        [sys.executable, "-m", "tansiq", *argv],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


class Tansiq:
    """The ``tansiq`` command bound to one database (a file path or a PostgreSQL URL)."""

    def __init__(self, db: str | Path, backend: Backend | None = None) -> None:
        self.db = str(db)
        self.backend = backend
        self.token = ""  # set by ``ready``
        self.collection_id = ""

    def __call__(self, *args: str, input: str | None = None, db: bool = True) -> Result:
        argv = ["--database", self.db] if db else []
        return run(argv + list(args), input=input)


def make_ready(tansiq: Tansiq) -> Tansiq:
    """Initialise with the command: organisation CERT Alpha, alice (analyst; token in
    ``tansiq.token``), collection Shared (alias shared; id in ``tansiq.collection_id``)."""
    assert tansiq("init").code == 0
    assert tansiq("org", "add", "CERT Alpha").code == 0
    r = tansiq("user", "add", "alice", "--org", "CERT Alpha", "--role", "analyst", "--json")
    assert r.code == 0, r.err
    tansiq.token = r.json()["token"]
    r = tansiq(
        "collection", "add", "Shared", "--alias", "shared",
        "--read", "CERT Alpha", "--write", "CERT Alpha", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    tansiq.collection_id = r.json()["id"]
    return tansiq


@pytest.fixture
def tansiq(backend: Backend, tmp_path: Path) -> Iterator[Tansiq]:
    """The command on a blank database of the backend under test (not initialised)."""
    with backend.blank(tmp_path, "cli") as db:
        yield Tansiq(db, backend)


@pytest.fixture(scope="session")
def ready_template(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tansiq]:
    """``ready``'s database, built with the command once per backend (four commands cost
    a second or two; a copy costs a few milliseconds)."""
    with backend.blank(tmp_path_factory.mktemp("ready"), "ready") as db:
        tansiq = make_ready(Tansiq(db, backend))
        yield tansiq


@pytest.fixture
def ready(backend: Backend, ready_template: Tansiq, tmp_path: Path) -> Iterator[Tansiq]:
    """An initialised database with one organisation, an analyst (alice, whose token is
    ``ready.token``) and one collection (alias shared, id ``ready.collection_id``): a
    copy of ``ready_template`` of its own."""
    with backend.copy(ready_template.db, tmp_path) as db:
        tansiq = Tansiq(db, backend)
        tansiq.token = ready_template.token
        tansiq.collection_id = ready_template.collection_id
        yield tansiq
