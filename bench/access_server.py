"""The TAXII server of the audit-cost measurement: ``create_app(Settings(), store)`` under
uvicorn (as ``tansiq serve`` runs it: one process, no access log), with the read audit on
or off. "off" replaces ``app.state.services.audit.record`` with a no-op, so reads are not
buffered, chained nor written to the audit table; everything else is the same code.

    python -m bench.access_server DB PORT on|off
"""

from __future__ import annotations

import sys
from typing import Any


def _not_recorded(_event: Any) -> None:
    return None


def main(argv: list[str]) -> None:
    if len(argv) != 3 or argv[2] not in ("on", "off"):
        sys.exit(__doc__)
    database, port, mode = argv
    import uvicorn

    from tansiq.storage import open_store
    from tansiq.taxii.app import create_app
    from tansiq.taxii.settings import Settings

    store = open_store(database, create=False)
    check = getattr(store, "check_ready", None)
    if check is not None:
        check()
    app = create_app(Settings(), store)
    if mode == "off":
        app.state.services.audit.record = _not_recorded
    uvicorn.run(app, host="127.0.0.1", port=int(port), access_log=False, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1:])
