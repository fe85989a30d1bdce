"""Each procedure of docs/deploy.md, run literally.

The doc quotes the scripts in docs/examples/deploy-*.sh line for line (checked here), and
these tests run those scripts in bash, sourced one after the other in one shell where a
section continues the previous one, as a reader pasting them into a terminal would: real
``tansiq`` commands, real servers, a real PostgreSQL server, taxii2-client.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

from .support import (
    DEPLOY_DOC,
    EXAMPLES,
    TAXII,
    RoundRobinProxy,
    clean_env,
    doc_blocks,
    export_objects,
    pg_target,
    requires,
    run_scripts,
    script_body,
    tansiq,
)

SCRIPTS = [
    "deploy-sqlite.sh",
    "deploy-postgres.sh",
    "deploy-cluster.sh",
    "deploy-backup-sqlite.sh",
    "deploy-backup-postgres.sh",
]


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_doc_quotes_every_line_of_the_script(name: str) -> None:
    blocks = doc_blocks(name)
    assert blocks, f"docs/deploy.md quotes nothing of {name}"
    quoted = [line for block in blocks for line in block]
    assert quoted == script_body(name), f"docs/deploy.md and {name} differ"


def test_every_deploy_script_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("deploy-*.sh")) == sorted(SCRIPTS)


def started_workers(log: Path) -> int:
    return len(re.findall(r"Started server process", log.read_text()))


# --------------------------------------------------------------------------- 1. one machine


@requires("curl")
def test_one_machine_embedded_sqlite(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = clean_env(DATA_DIR=str(data), PORT=str(free_port()))
    run = run_scripts("deploy-sqlite.sh", cwd=tmp_path, env=env)
    assert run.code == 0, run.err
    assert '"success_count":1,"failure_count":0' in run.out
    assert '"name":"C2 server"' in run.out.splitlines()[-1]
    assert started_workers(data / "serve.log") == 2  # serve --workers 2
    assert "Stopping parent process" in (data / "serve.log").read_text()  # stopped at exit
    assert [o["name"] for o in export_objects(str(data / "tansiq.db"))] == ["C2 server"]


# --------------------------------------------------------------------------- 2. PostgreSQL


@requires("curl", "psql", "createdb")
def test_postgresql_with_two_api_workers_through_taxii2_client(tmp_path: Path) -> None:
    with pg_target() as pg:
        env = clean_env(PORT=str(free_port()), **pg.libpq_env())
        run = run_scripts("deploy-postgres.sh", cwd=tmp_path, env=env)
        assert run.code == 0, run.err
        assert run.out.splitlines()[-2:] == [
            "taxii2-client wrote 1 object(s), status complete",
            "taxii2-client read back: C2 server",
        ]
        assert started_workers(tmp_path / "serve.log") == 2
        assert [o["name"] for o in export_objects(pg.url())] == ["C2 server"]
        assert "audit log intact" in tansiq("audit", "verify", database=pg.url())


# --------------------------------------------------------------------------- 3. several hosts


@requires("curl", "psql", "createdb")
def test_several_hosts_behind_a_load_balancer(tmp_path: Path) -> None:
    port_a, port_b = free_port(), free_port()
    proxy = RoundRobinProxy([f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"])
    proxy.start()
    try:
        with pg_target() as pg:
            env = clean_env(
                PORT=str(free_port()),
                PORT_A=str(port_a),
                PORT_B=str(port_b),
                LISTEN="127.0.0.1",
                PUBLIC_URL=proxy.url,
                **pg.libpq_env(),
            )
            run = run_scripts("deploy-postgres.sh", "deploy-cluster.sh", cwd=tmp_path, env=env)
            assert run.code == 0, f"{run.err}\nbalancer: {proxy.errors}"
            database = pg.url()
            assert "audit log intact" in tansiq("audit", "verify", database=database)
            stored = export_objects(database)
    finally:
        proxy.stop()
    # discovery names the load balancer, whichever host answered
    assert f"API roots: {proxy.url}/default/" in run.out
    # 1 object from section 2 and 5 written through the balancer, read back 2 by 2
    assert run.out.splitlines()[-1] == "read 6 objects (6 distinct) in 3 pages of 2"
    assert len(stored) == 6
    # every request went through the balancer, to both hosts in turn; a page asked with
    # a 'next' token from one host was answered by the other (no sticky sessions)
    hosts = {backend for _, _, backend in proxy.served}
    assert hosts == set(proxy.backends)
    gets = [(path, backend) for method, path, backend in proxy.served if method == "GET"]
    follow_ups = [i for i, (path, _) in enumerate(gets) if "next=" in path]
    assert len(follow_ups) == 2
    assert all(gets[i][1] != gets[i - 1][1] for i in follow_ups)
    assert started_workers(tmp_path / "serve-a.log") == 2
    assert started_workers(tmp_path / "serve-b.log") == 2


# --------------------------------------------------------------------------- 4. backups


@requires("curl")
def test_sqlite_online_backup_while_serving_and_restore(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = clean_env(DATA_DIR=str(data), BACKUP_DIR=str(tmp_path / "backups"), PORT=str(free_port()))
    run = run_scripts("deploy-sqlite.sh", "deploy-backup-sqlite.sh", cwd=tmp_path, env=env)
    assert run.code == 0, run.err
    assert re.search(r"^backed up .* 1 object versions, \d+ audit entries\)$", run.out, re.M)
    assert re.search(r"^audit log intact: \d+ entries verified$", run.out, re.M)
    assert '"name":"C2 server"' in run.out.splitlines()[-1]  # served again, from the backup
    backups = list((tmp_path / "backups").glob("tansiq-*.db"))
    assert len(backups) == 1
    assert backups[0].stat().st_mode & 0o077 == 0  # token hashes and the instance secret
    # the database as it was when the server stopped, and the restored backup
    before = str(data / "tansiq.db.before-restore")
    restored = str(data / "tansiq.db")
    assert export_objects(restored) == export_objects(before)
    assert tansiq("token", "list", "--json", database=restored) == tansiq(
        "token", "list", "--json", database=before
    )
    assert "audit log intact" in tansiq("audit", "verify", database=restored)


@requires("curl", "psql", "createdb", "pg_dump", "pg_restore")
def test_pg_dump_and_pg_restore_round_trip(tmp_path: Path) -> None:
    with pg_target() as pg:
        env = clean_env(
            PORT=str(free_port()), BACKUP_DIR=str(tmp_path / "backups"), **pg.libpq_env()
        )
        run = run_scripts("deploy-postgres.sh", "deploy-backup-postgres.sh", cwd=tmp_path, env=env)
        assert run.code == 0, run.err
        # checked before the switch, and after it (the restored database under the old name)
        assert len(re.findall(r"^audit log intact: \d+ entries verified$", run.out, re.M)) == 2
        assert '"title":"Shared intel"' in run.out.splitlines()[-1]  # served again
        assert len(list((tmp_path / "backups").glob("tansiq-*.dump"))) == 1
        before, restored = pg.url(f"{pg.name}_before_restore"), pg.url()
        objects = export_objects(before)
        assert [o["name"] for o in objects] == ["C2 server"]
        assert export_objects(restored) == objects
        for what in (("token", "list", "--json"), ("user", "list", "--json")):
            assert tansiq(*what, database=restored) == tansiq(*what, database=before)
        assert "audit log intact" in tansiq("audit", "verify", database=restored)


# --------------------------------------------------------------------------- as a service


def doc_file(marker: str) -> list[str]:
    """The lines of the block of docs/deploy.md marked ``<!-- file: MARKER -->``."""
    found = re.search(
        rf"<!-- file: {re.escape(marker)} -->\n```\w*\n(.*?)\n```", DEPLOY_DOC.read_text(), re.S
    )
    assert found, f"docs/deploy.md has no block marked {marker}"
    return found.group(1).splitlines()


def test_the_service_unit_runs_the_documented_command(tmp_path: Path) -> None:
    """The systemd unit's ExecStart, with the documented environment file: two workers,
    discovery naming TANSIQ_PUBLIC_URL."""
    settings = dict(
        line.split("=", 1) for line in doc_file("tansiq.env") if line and not line.startswith("#")
    )
    assert set(settings) == {"TANSIQ_DATABASE", "TANSIQ_PUBLIC_URL"}
    unit = doc_file("tansiq.service")
    assert unit[0] == "# /etc/systemd/system/tansiq.service"
    assert f"EnvironmentFile={doc_file('tansiq.env')[0].split()[1]}" in unit
    exec_start = shlex.split(next(line for line in unit if line.startswith("ExecStart="))[10:])
    assert exec_start[:2] == ["/opt/tansiq/bin/tansiq", "serve"]  # the venv of "Before you start"
    database = str(tmp_path / "tansiq.db")
    tansiq("init", database=database)
    tansiq("org", "add", "CERT Alpha", database=database)
    token = json.loads(
        tansiq(
            "user",
            "add",
            "mon",
            "--org",
            "CERT Alpha",
            "--role",
            "reader",
            "--json",
            database=database,
        )
    )["token"]
    port = free_port()
    argv = [sys.executable, "-m", "tansiq", *exec_start[1:]]
    argv[argv.index("--port") + 1] = str(port)
    env = clean_env(**dict(settings, TANSIQ_DATABASE=database))
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        answer = httpx.get(
            f"{url}/taxii2/", headers={"Accept": TAXII, "Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200, answer.text
        public = settings["TANSIQ_PUBLIC_URL"]
        assert answer.json()["api_roots"] == [f"{public}/default/"]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    assert started_workers(log) == 2


def test_the_documented_cron_line_takes_a_backup(tmp_path: Path) -> None:
    line = doc_file("tansiq-backup.cron")[1]
    fields = line.split(None, 6)
    assert fields[5] == "tansiq"  # /etc/cron.d lines name the user
    command = fields[6].replace("\\%", "%")  # cron turns an unescaped % into a newline
    database = tmp_path / "srv" / "tansiq.db"
    database.parent.mkdir()
    backups = tmp_path / "backups"
    backups.mkdir()
    tansiq("init", database=str(database))
    old = backups / "tansiq-20200101T000000Z.db"
    old.write_text("an old backup")
    os.utime(old, (0, 0))
    command = (
        command.replace("/opt/tansiq/bin/tansiq", f"{sys.executable} -m tansiq")
        .replace("/srv/tansiq/tansiq.db", str(database))
        .replace("/var/backups/tansiq", str(backups))
    )
    proc = subprocess.run(
        ["sh", "-c", command], env=clean_env(), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    made = sorted(p.name for p in backups.iterdir())
    assert len(made) == 1 and re.fullmatch(r"tansiq-\d{8}T\d{6}Z\.db", made[0]), made
