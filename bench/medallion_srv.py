"""Baseline TAXII server: OASIS medallion with its memory backend, served by gunicorn.

* ``python_for_medallion()``: an interpreter that can import medallion and gunicorn: this
  one if it can, else bench/.venv-medallion, which is created on first use (pip install
  medallion gunicorn, with Flask/Werkzeug pinned below 3 only if the current ones fail).
* ``write_config()``: medallion's JSON config plus its memory-backend data file, holding
  the same generated objects as Tansiq's collection, with a manifest entry per object
  (``date_added`` increasing in bundle order, as Tansiq assigns it).
* ``command()``: ``gunicorn -w 1 -k gthread --threads 4`` on ``medallion:load_app(config)``.
  One worker process, because medallion keeps ``next`` sessions in process memory; threads
  give it concurrent, keep-alive connections.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench import generate

VENV = Path(__file__).resolve().parent / ".venv-medallion"
API_ROOT = "bench"
USER, PASSWORD = "bench", "bench-password"
COLLECTION_ID = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
SERVER_DESCRIPTION = "gunicorn (1 worker process, gthread, 4 threads)"
PIP_PACKAGES = ["medallion", "gunicorn"]
PINNED_FALLBACK = ["flask<3", "werkzeug<3", "flask-httpauth<5"]

_SMOKE = (
    "import medallion, gunicorn, flask, werkzeug; "
    "from medallion.backends.memory_backend import MemoryBackend; "
    "from importlib.metadata import version as v; "
    "print(*(v(p) for p in ('medallion', 'flask', 'werkzeug', 'gunicorn')))"
)


def _probe(python: str) -> str | None:
    r = subprocess.run([python, "-c", _SMOKE], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def python_for_medallion(log: Any = print) -> tuple[str, str]:
    """(interpreter, "medallion X flask Y werkzeug Z gunicorn W")."""
    versions = _probe(sys.executable)
    if versions:
        return sys.executable, _describe(versions)
    py = VENV / "bin" / "python"
    if py.exists() and (versions := _probe(str(py))):
        return str(py), _describe(versions)
    log(
        f"creating {VENV.relative_to(Path.cwd()) if VENV.is_relative_to(Path.cwd()) else VENV} for medallion ..."
    )
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *PIP_PACKAGES], check=True)
    versions = _probe(str(py))
    if not versions or not _app_works(str(py)):
        log("  medallion fails with the current Flask: pinning " + " ".join(PINNED_FALLBACK))
        subprocess.run([*pip, *PINNED_FALLBACK], check=True)
        versions = _probe(str(py))
    if not versions:
        raise RuntimeError("could not set up medallion in " + str(VENV))
    return str(py), _describe(versions)


def _describe(versions: str) -> str:
    m, f, w, g = versions.split()
    return f"medallion {m}, Flask {f}, Werkzeug {w}, gunicorn {g}"


def _app_works(python: str) -> bool:
    """Does medallion answer a request with this interpreter's Flask (test client, no server)?"""
    code = (
        "import json, tempfile, os, medallion\n"
        "d = tempfile.mkdtemp()\n"
        "data = {'/discovery': {'title': 't', 'api_roots': []}, 'r': {'information': {'title': 'r',"
        " 'versions': ['application/taxii+json;version=2.1'], 'max_content_length': 1}, 'status': [],"
        " 'collections': []}}\n"
        "open(os.path.join(d, 'data.json'), 'w').write(json.dumps(data))\n"
        "cfg = {'backend': {'module': 'medallion.backends.memory_backend', 'module_class': 'MemoryBackend',"
        " 'filename': os.path.join(d, 'data.json')}, 'users': {'u': 'p'}, 'taxii': {'max_page_size': 100}}\n"
        "open(os.path.join(d, 'cfg.json'), 'w').write(json.dumps(cfg))\n"
        "app = medallion.load_app(os.path.join(d, 'cfg.json'))\n"
        "import base64\n"
        "h = {'Accept': 'application/taxii+json;version=2.1', 'Authorization': 'Basic ' + base64.b64encode(b'u:p').decode()}\n"
        "r = app.test_client().get('/taxii2/', headers=h)\n"
        "assert r.status_code == 200, r.status_code\n"
    )
    return subprocess.run([python, "-c", code], capture_output=True).returncode == 0


def auth_headers() -> dict[str, str]:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return {"Accept": "application/taxii+json;version=2.1", "Authorization": f"Basic {basic}"}


def objects_path() -> str:
    return f"/{API_ROOT}/collections/{COLLECTION_ID}/objects/"


def write_config(folder: Path, size: int, seed: int, port: int) -> Path:
    """medallion config + data file with the first ``size`` generated objects of the corpus."""
    folder.mkdir(parents=True, exist_ok=True)
    objects = []
    manifest = []
    added = datetime(2024, 1, 1, tzinfo=UTC)
    for i, obj in enumerate(generate.iter_objects(size, seed)):
        date_added = (added + timedelta(milliseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        version = obj.get("modified") or obj.get("created")
        if version is None:  # SCOs: medallion versions them by a hidden _date_added
            obj = {**obj, "_date_added": date_added}
            version = date_added
        objects.append(obj)
        manifest.append(
            {
                "id": obj["id"],
                "date_added": date_added,
                "version": version,
                "media_type": "application/stix+json;version=2.1",
            }
        )
    base = f"http://127.0.0.1:{port}"
    data = {
        "/discovery": {
            "title": "benchmark medallion",
            "description": "",
            "contact": "",
            "default": f"{base}/{API_ROOT}/",
            "api_roots": [f"{base}/{API_ROOT}/"],
        },
        API_ROOT: {
            "information": {
                "title": "bench",
                "description": "",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 100 * 1024 * 1024,
            },
            "status": [],
            "collections": [
                {
                    "id": COLLECTION_ID,
                    "title": "Benchmark corpus",
                    "description": "",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": objects,
                    "manifest": manifest,
                }
            ],
        },
    }
    data_path = folder / f"medallion-data-{size}.json"
    data_path.write_bytes(orjson.dumps(data))
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(data_path),  # session_timeout / check_interval: medallion's defaults
        },
        "users": {USER: PASSWORD},
        "taxii": {"max_page_size": 100},
    }
    config_path = folder / f"medallion-config-{size}.json"
    config_path.write_bytes(orjson.dumps(config))
    return config_path


def command(python: str, config: Path, port: int) -> list[str]:
    return [
        python,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--timeout",
        "3600",
        "--keep-alive",
        "60",
        "--log-level",
        "warning",
        f"medallion:load_app({str(config)!r})",
    ]
