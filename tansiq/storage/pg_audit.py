"""The hash-chained audit log on PostgreSQL (chaining rules: storage.audit_chain).

Appends take the AUDIT advisory lock inside the caller's transaction, read the head,
chain the new entries onto it and commit with the caller's own changes, so entry ids are
dense and the chain never forks however many processes append at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from tansiq.clock import now_text
from tansiq.storage.audit_chain import AUDIT_COLUMNS, audit_select, chain_rows, parse_head
from tansiq.storage.base import AuditEvent, AuditRow
from tansiq.storage.pg_base import AUDIT_LOCK, Conn, PgBase, lock_sql


class PgAudit(PgBase):
    def _append_audit(self, conn: Conn, events: Sequence[AuditEvent]) -> None:
        """Append ``events`` in the open transaction of ``conn``."""
        if not events:
            return
        conn.execute(lock_sql(AUDIT_LOCK))
        # chain onto the *recorded* head, not onto whatever the table ends with: rows
        # removed or appended behind Tansiq's back then stay visible to `audit verify`
        head, top = conn.execute(
            "SELECT (SELECT value FROM settings WHERE key = 'audit_head'), "
            "(SELECT MAX(id) FROM audit)"
        ).fetchone()  # type: ignore[misc]
        rows, new_head = chain_rows(head, top, events, now_text())
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO audit ({AUDIT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
        conn.execute(
            "INSERT INTO settings (key, value) VALUES ('audit_head', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (new_head,),
        )

    def append_audit(self, events: Sequence[AuditEvent]) -> None:
        if events:
            with self._tx() as conn:
                self._append_audit(conn, events)

    def audit_head(self) -> tuple[int, str] | None:
        with self._conn() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = 'audit_head'").fetchone()
        return parse_head(None if row is None else row[0])

    def iter_audit(
        self,
        *,
        user_id: int | None = None,
        org_id: int | None = None,
        collection_id: str | None = None,
        since: str | None = None,
        until: str | None = None,
        batch: int = 1000,
    ) -> Iterator[AuditRow]:
        sql, fixed = audit_select(
            "%s",
            user_id=user_id,
            org_id=org_id,
            collection_id=collection_id,
            since=since,
            until=until,
        )
        position = -1
        while True:
            # one pooled connection per batch: a slow consumer never pins a connection
            with self._conn() as conn:
                rows = conn.execute(sql, (position, *fixed, batch)).fetchall()
            for r in rows:
                yield AuditRow(*r)
            if len(rows) < batch:
                return
            position = rows[-1][0]
