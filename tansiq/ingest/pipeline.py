"""Parallel import: one process reads and validates, this one writes.

Validation (pure Python, CPU-bound) and SQLite writes take comparable time per object;
running them in two processes overlaps them. The reader process sends batches of
validated versions (without the parsed dicts: only the stored bytes, the extracted
fields and the content hash) through a bounded queue, so memory stays flat.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tansiq.access.policy import WriterContext
from tansiq.errors import InvalidInput, TansiqError
from tansiq.ingest.bundle import WriteOptions, write_prepared
from tansiq.storage.base import Principal, Store

BATCH = 5000
QUEUE_DEPTH = 3


def _produce(path: str, out: Any, batch_size: int, writer: WriterContext | None) -> None:
    import gc

    from tansiq.ingest.bundle import prepare, read_objects

    gc.disable()
    try:
        batch: list[Any] = []
        index = 0
        for obj in read_objects(Path(path)):
            batch.append(obj)
            if len(batch) >= batch_size:
                ok, bad = prepare(batch, index, writer)
                out.put(("batch", ([v._replace(obj=None) for v in ok], bad, len(batch))))
                index += len(batch)
                batch = []
        if batch:
            ok, bad = prepare(batch, index, writer)
            out.put(("batch", ([v._replace(obj=None) for v in ok], bad, len(batch))))
        out.put(("done", None))
    except InvalidInput as exc:
        out.put(("error", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, never lost
        out.put(("crash", f"{type(exc).__name__}: {exc}"))


def import_parallel(
    store: Store,
    collection_id: str,
    principal: Principal,
    path: Path,
    progress: Callable[[int, int], None] | None,
    report: Any,
    opts: WriteOptions,
) -> None:
    ctx = mp.get_context("fork")
    channel = ctx.Queue(maxsize=QUEUE_DEPTH)
    reader = ctx.Process(
        target=_produce, args=(str(path), channel, BATCH, opts.writer), daemon=True
    )
    reader.start()
    done = 0
    try:
        while True:
            try:
                kind, payload = channel.get(timeout=1.0)
            except queue_mod.Empty:
                if not reader.is_alive():
                    raise TansiqError(f"{path}: the reader process stopped unexpectedly") from None
                continue
            if kind == "batch":
                versions, failures, count = payload
                report.count(
                    write_prepared(
                        store,
                        collection_id,
                        principal,
                        versions,
                        failures,
                        opts.peer,
                        opts.access,
                        opts.audit,
                    )
                )
                done += count
                if progress:
                    progress(done, 0)
            elif kind == "done":
                return
            elif kind == "error":
                raise InvalidInput(payload)
            else:
                raise TansiqError(f"{path}: import failed: {payload}")
    finally:
        if reader.is_alive():
            reader.terminate()
        reader.join(timeout=5)
        channel.close()
