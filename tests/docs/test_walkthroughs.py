"""The documented walkthroughs run literally and print what the docs say."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_two_organisations_walkthrough(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PORT"] = str(free_port())
    env.pop("TANSIQ_DATABASE", None)
    proc = subprocess.run(
        ["bash", str(ROOT / "docs" / "examples" / "two-organisations.sh")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()[-6:]
    assert lines[:5] == [
        "alice sees: GREEN: phishing domain, AMBER: C2 server, RED: informant's phone",
        "bob sees:   GREEN: phishing domain, AMBER: C2 server",
        "olga sees:  GREEN: phishing domain",
        "anonymous:  (nothing)",
        "bob asks for the RED indicator: HTTP 404",
    ]
    assert lines[5].startswith("audit log intact: ")
    documented = (ROOT / "docs" / "access.md").read_text()
    for line in lines[:5]:
        assert line in documented
