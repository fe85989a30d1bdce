"""Import measurement of the PostgreSQL part, run in a fresh process by the runner.

    python -m bench.pg_workers import DATABASE COLLECTION USER FILE

``tansiq.ingest.bundle.import_file`` with the options ``tansiq import`` builds (writer
context, the writer's Access, an audit event; tansiq/cli/data.py), into DATABASE: a
``postgresql://`` URL or an SQLite file (the same code path for both backends, so their
rates compare). Prints one JSON line last, like bench/workers.py: objects, seconds (the
call only, not interpreter start-up), the import report, the peak RSS of this (writing)
process (``RUSAGE_SELF``) and of the reader process that validates while it writes
(``RUSAGE_CHILDREN``, after it was reaped). The peak that ``wait4`` gives the runner is the
larger of the two (Linux reports a child's usage together with its own children's).
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any

import orjson


def _emit(result: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()


def run_import(database: str, collection: str, user: str, path: str) -> None:
    from tansiq.access import admin
    from tansiq.access.audit import event
    from tansiq.access.policy import access_for, default_tlp, writer_context
    from tansiq.ingest.bundle import WriteOptions, import_file
    from tansiq.storage import open_store

    store = open_store(database, create=False)
    coll = admin.require_collection(store, collection)
    principal = admin.principal(store, user)
    options = WriteOptions(  # as `tansiq import` builds them (tansiq/cli/data.py)
        writer=writer_context(store, principal),
        access=access_for(principal, coll, default_tlp(store)),
        audit=event(principal, "objects.write", coll.id, via="cli-import"),
    )
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    report = import_file(store, coll.id, principal, path, options=options)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    store.close()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats = report.as_dict()
    failures = stats.pop("failures", [])
    _emit(
        {
            "objects": stats.pop("total", 0),
            "seconds": seconds,
            "writer_cpu_seconds": round(cpu, 3),
            "reader_cpu_seconds": round(children.ru_utime + children.ru_stime, 3),
            "writer_peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "reader_peak_rss": children.ru_maxrss * 1024,  # Linux reports KiB
            **stats,
            "first_failures": failures[:5],
        }
    )


COMMANDS = {"import": run_import}


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in COMMANDS or len(argv) != 5:
        sys.exit(__doc__)
    COMMANDS[argv[0]](*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
