"""Tansiq databases for the benchmark, set up exactly as an operator would: with the CLI.

* ``fresh(db)``: ``tansiq init``, ``org add``, ``user add``, ``collection add`` (all with
  ``--json`` to read ids and the token back) on an empty database file.
* ``cached_store(size, seed)``: a database holding the generated corpus of ``size`` objects,
  imported once with ``tansiq import`` and kept under bench/.cache/ for later runs. The cache
  key has the corpus size, seed and generator version, the build recipe version and a hash
  of Tansiq's schema migrations, so a schema or recipe change rebuilds it. Its collection is
  public and it also holds the need-to-know principals of the access part (``ACCESS_USERS``:
  an admin, an analyst of an organisation granted read, an analyst of a non-granted one),
  made with the CLI; they change nothing for the other parts' reads.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from bench import generate, procs

ORG = "bench-org"
USER = "bench-analyst"
ALIAS = "bench"
STORE_RECIPE = 2  # bump when what cached_store builds changes: it is part of the cache key
#: The access part's callers: role name -> (user, organisation, role, org granted read).
ACCESS_USERS: dict[str, tuple[str, str, str, bool]] = {
    "admin": ("bench-admin", "bench-operators", "admin", False),
    "analyst": ("bench-partner-analyst", "bench-partner", "analyst", True),
    "outsider": ("bench-outsider", "bench-outside", "analyst", False),
}


@dataclass
class Setup:
    database: str
    collection_id: str
    alias: str
    api_root: str
    user: str
    token: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def cli(database: Path | str, *args: str, timeout: float = 3600) -> procs.Finished:
    cmd = procs.tansiq_command("--database", str(database), *args)
    done = procs.run(cmd, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(cmd)}` failed (exit {done.returncode}):\n{done.stderr[-3000:]}{done.stdout[-1000:]}"
        )
    return done


def cli_json(database: Path | str, *args: str) -> dict[str, Any]:
    done = cli(database, *args, "--json")
    lines = [ln for ln in done.stdout.splitlines() if ln.strip().startswith("{")]
    if not lines:
        raise RuntimeError(
            f"`tansiq {' '.join(args)} --json` printed no JSON object: {done.stdout!r}"
        )
    return orjson.loads(lines[-1])


def fresh(database: Path, *, public: bool = False) -> Setup:
    """An empty Tansiq database with one organisation, one analyst and one collection."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(database) + suffix).unlink(missing_ok=True)
    database.parent.mkdir(parents=True, exist_ok=True)
    cli_json(database, "init")
    cli_json(database, "org", "add", ORG)
    user = cli_json(database, "user", "add", USER, "--org", ORG, "--role", "analyst")
    coll = cli_json(
        database,
        "collection",
        "add",
        "Benchmark corpus",
        "--alias",
        ALIAS,
        "--read",
        ORG,
        "--write",
        ORG,
        *(["--public"] if public else []),
    )
    token = user.get("token")
    if not token:
        raise RuntimeError(f"`tansiq user add --json` returned no token: {user}")
    return Setup(
        database=str(database),
        collection_id=coll["id"],
        alias=coll.get("alias") or ALIAS,
        api_root=coll.get("api_root") or "default",
        user=USER,
        token=token,
    )


def add_access_users(setup: Setup) -> dict[str, dict[str, str]]:
    """The access part's organisations, users and grants, made with the CLI."""
    out: dict[str, dict[str, str]] = {}
    for kind, (name, org, role, granted) in ACCESS_USERS.items():
        cli_json(setup.database, "org", "add", org)
        user = cli_json(setup.database, "user", "add", name, "--org", org, "--role", role)
        if not user.get("token"):
            raise RuntimeError(f"`tansiq user add --json` returned no token: {user}")
        if granted:
            cli_json(setup.database, "grant", setup.alias, org, "--read")
        out[kind] = {"user": name, "org": org, "role": role, "token": user["token"]}
    return out


def schema_fingerprint() -> str:
    """Hash of Tansiq's migration scripts: a cached store is only reused with the same schema."""
    h = hashlib.sha256()
    import tansiq.storage

    mig = Path(tansiq.storage.__file__).parent / "migrations"
    for f in sorted(mig.glob("*.sql")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:10]


def import_command(setup: Setup, bundle: Path) -> list[str]:
    return procs.tansiq_command(
        "--database",
        setup.database,
        "import",
        str(bundle),
        "--collection",
        setup.alias,
        "--user",
        setup.user,
        "--json",
    )


def cached_store(
    size: int, seed: int, *, rebuild: bool = False, log: Any = print
) -> tuple[Setup, dict[str, Any]]:
    """A Tansiq database with the corpus of ``size`` objects; built once, then reused."""
    key = (
        f"store-{size}-s{seed}-g{generate.GENERATOR_VERSION}-r{STORE_RECIPE}"
        f"-m{schema_fingerprint()}"
    )
    folder = generate.CACHE_DIR / key
    meta_path = folder / "meta.json"
    if meta_path.exists() and not rebuild:
        meta = orjson.loads(meta_path.read_bytes())
        setup = Setup(**meta["setup"])
        setup.database = str(folder / "tansiq.db")  # the cache may have moved with the tree
        return setup, meta
    for stale in generate.CACHE_DIR.glob(f"store-{size}-s{seed}-g*"):  # older schema/generator
        if stale.name != key:
            log(f"removing stale cached store {stale.name}")
            shutil.rmtree(stale, ignore_errors=True)
    bundle = generate.ensure_bundle(size, seed, log=log)
    tmp = generate.CACHE_DIR / (key + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.mkdir(parents=True)
    setup = fresh(tmp / "tansiq.db", public=True)
    access_users = add_access_users(setup)
    log(f"building the {size:,}-object Tansiq store ({key}) with `tansiq import` ...")
    t0 = time.perf_counter()
    done = procs.run(import_command(setup, bundle), timeout=6 * 3600)
    seconds = time.perf_counter() - t0
    report: dict[str, Any] = {}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            report = orjson.loads(line)
            break
    if not report or report.get("added", 0) == 0:
        raise RuntimeError(
            f"building the store failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    if done.returncode != 0:
        log(f"  note: tansiq import exited {done.returncode}: {done.stderr.strip()[-300:]}")
    report.pop("failures", None)
    tmp.rename(folder)
    setup.database = str(folder / "tansiq.db")
    meta = {
        "setup": setup.to_json(),
        "access": access_users,
        "size": size,
        "seed": seed,
        "import": report,
        "import_seconds": round(seconds, 2),
        "import_peak_rss": done.peak_rss,
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    meta_path.write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    log(f"  built in {seconds:.0f}s ({report.get('added')} added, {report.get('invalid')} invalid)")
    return setup, meta
