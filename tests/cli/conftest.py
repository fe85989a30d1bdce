"""Run the real ``tansiq`` command in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Tansiq:
    def __init__(self, db: Path) -> None:
        self.db = db

    def __call__(self, *args: str, input: str | None = None, db: bool = True) -> Result:
        env = {k: v for k, v in os.environ.items() if k != "TANSIQ_DATABASE"}
        argv = [sys.executable, "-m", "tansiq"]
        if db:
            argv += ["--database", str(self.db)]
        proc = subprocess.run(
            argv + list(args),
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def tansiq(tmp_path: Path) -> Tansiq:
    return Tansiq(tmp_path / "cli.db")


@pytest.fixture
def ready(tansiq: Tansiq) -> Tansiq:
    """An initialised database with one organisation, one analyst and one collection."""
    assert tansiq("init").code == 0
    assert tansiq("org", "add", "CERT Alpha").code == 0
    r = tansiq("user", "add", "alice", "--org", "CERT Alpha", "--role", "analyst", "--json")
    assert r.code == 0, r.err
    tansiq.token = r.json()["token"]  # type: ignore[attr-defined]
    r = tansiq(
        "collection",
        "add",
        "Shared",
        "--alias",
        "shared",
        "--read",
        "CERT Alpha",
        "--write",
        "CERT Alpha",
        "--json",
    )
    assert r.code == 0, r.err
    tansiq.collection_id = r.json()["id"]  # type: ignore[attr-defined]
    return tansiq
