"""The TAXII floor: a bare ASGI app that answers with precomputed page bytes.

It does no routing, authentication, database or serialisation work, so under the same
uvicorn it shows what the server stack alone costs per request. The pages are the exact
bytes Tansiq returned for the same requests, read at start-up from ``BENCH_FLOOR_PAGES``
(a directory holding ``first.json``, ``type.json`` and ``deep.json``):

* a query with ``next=`` gets the deep page,
* a query with ``match[type]`` (or its percent-encoded form) gets the type-filtered page,
* anything else gets the first page.

    BENCH_FLOOR_PAGES=DIR python -m uvicorn bench.floor_app:app --port P --no-access-log
"""

from __future__ import annotations

import os
from pathlib import Path

_DIR = Path(os.environ.get("BENCH_FLOOR_PAGES", "."))
_PAGES: dict[str, bytes] = {}
for _name in ("first", "type", "deep"):
    _file = _DIR / f"{_name}.json"
    _PAGES[_name] = _file.read_bytes() if _file.exists() else b'{"more":false}'


def _start(body: bytes) -> dict:
    return {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"application/taxii+json;version=2.1"),
            (b"content-length", str(len(body)).encode()),
        ],
    }


_RESPONSES = {
    name: (_start(body), {"type": "http.response.body", "body": body})
    for name, body in _PAGES.items()
}


async def app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] != "http":  # lifespan: accept start-up and shutdown
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    query: bytes = scope.get("query_string", b"")
    if b"next=" in query:
        start, body = _RESPONSES["deep"]
    elif b"match%5Btype%5D" in query or b"match[type]" in query:
        start, body = _RESPONSES["type"]
    else:
        start, body = _RESPONSES["first"]
    await send(start)
    await send(body)
