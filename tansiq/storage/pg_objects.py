"""Object versions on PostgreSQL: writes, deletes, queries (same rules as sqlite.py).

Every change to ``objects`` runs in one transaction that first takes the FEED advisory
lock; see the module docstring of tansiq.storage.postgres for why that makes the
(date_added, seq) feed safe for cursors.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson

from tansiq.clock import from_text, now_text, to_text
from tansiq.stix.timestamps import compare_key
from tansiq.storage.audit_chain import deletion_event, write_audit_event
from tansiq.storage.base import (
    Access,
    AuditEvent,
    NewVersion,
    Page,
    Principal,
    Query,
    StoredVersion,
    VersionFilter,
    WriteResult,
    chunked,
)
from tansiq.storage.identity import body_hash
from tansiq.storage.pg_audit import PgAudit
from tansiq.storage.pg_base import FEED_LOCK
from tansiq.storage.visibility import known_to_writer_sql, visible_sql
from tansiq.storage.write_plan import ROW_COLUMNS, plan_deletion, plan_writes

_OBJ_COLUMNS = (
    "seq, collection_id, id, type, version, spec_version, date_added, created_by, markings, "
    "json, writer_user_id, writer_org_id, peer"
)
_INSERT_COLUMNS = ROW_COLUMNS
_INSERT_TYPES = [
    "int8",
    *["text"] * 9,
    "int8",
    "int8",
    "text",
    "int4",
    "int8",
    "bool",
    "bool",
    "bytea",
    "bytea",
]
_CHUNK = 20000
_MICRO = timedelta(microseconds=1)


def _row_to_version(r: Sequence[Any]) -> StoredVersion:
    return StoredVersion(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        r[7],
        tuple(r[8].split()) if r[8] else (),
        r[9] if isinstance(r[9], bytes) else bytes(r[9]),
        r[10],
        r[11],
        r[12],
    )


def _stamps(db_now: datetime, last: str | None, count: int) -> list[str]:
    """``count`` strictly increasing date_added values after ``last``, not behind the
    database clock (the one clock every process and host shares)."""
    start = db_now
    if last:
        floor = from_text(last) + _MICRO
        if start < floor:
            start = floor
    return [to_text(start + _MICRO * i) for i in range(count)]


def _content_hash(nv: NewVersion) -> bytes:
    """The version's content identity: its own hash, else that of its object, else that
    of its stored bytes (never one shared value for every body without ``obj``)."""
    if nv.hash:
        return nv.hash
    return body_hash(nv.obj if nv.obj is not None else orjson.loads(nv.json))


class PgObjects(PgAudit):
    _mixed: bool = False  # a version of another spec than 2.1 was seen (never reverts)
    _mixed_checked: float = -1.0  # time.monotonic() of the last look at the setting

    # ------------------------------------------------------------------ writes

    def write_versions(
        self,
        collection_id: str,
        versions: Sequence[NewVersion],
        *,
        writer: Principal,
        peer: str | None = None,
        access: Access | None = None,
        audit: AuditEvent | None = None,
    ) -> list[WriteResult]:
        """Write versions; one result per input (rules: SQLiteStore.write_versions)."""
        results: list[WriteResult] = []
        for chunk in chunked(versions, _CHUNK):
            results.extend(self._write_chunk(collection_id, chunk, writer, peer, access, audit))
        if not versions and audit is not None:
            with self._tx() as conn:
                self._append_audit(conn, [write_audit_event(audit, collection_id, [], now_text())])
        return results

    def _write_chunk(
        self,
        collection_id: str,
        chunk: Sequence[NewVersion],
        writer: Principal,
        peer: str | None,
        access: Access | None,
        audit: AuditEvent | None,
    ) -> list[WriteResult]:
        hashes = [_content_hash(nv) for nv in chunk]  # outside the lock
        with self._tx(FEED_LOCK) as conn:
            local_orgs = {
                str(identity): int(org)
                for org, identity in conn.execute("SELECT id, identity_id FROM orgs")
            }
            known_expr = known_to_writer_sql(access) if access is not None else "TRUE"
            # every stored version of these ids: [vkey, hash, seq, first, last, version, created_by, known]
            known: dict[str, list[list[Any]]] = {}
            ids = list({v.id for v in chunk})
            cur = conn.execute(
                "SELECT id, vkey, body_hash, seq, is_first, is_last, version, created_by, "
                f"{known_expr} FROM objects WHERE collection_id = %s AND id = ANY(%s) "
                "ORDER BY id, vkey, seq",
                (collection_id, ids),
                binary=True,
            )
            for oid, vkey, h, seq, first, last, vtext, created_by, visible in cur:
                known.setdefault(oid, []).append(
                    [vkey, bytes(h), seq, first, last, vtext, created_by, bool(visible)]
                )
            db_now, last_added, last_seq = conn.execute(
                "SELECT clock_timestamp(), "
                "(SELECT value FROM settings WHERE key = 'last_date_added'), "
                "setval('objects_seq', nextval('objects_seq') + %s)",
                (len(chunk) - 1,),
            ).fetchone()  # type: ignore[misc]
            next_seq = int(last_seq) - len(chunk) + 1

            stamps = _stamps(db_now, last_added, len(chunk))
            now = stamps[0]
            plan = plan_writes(
                collection_id,
                chunk,
                hashes,
                stamps,
                known,
                next_seq,
                writer=writer,
                peer=peer,
                local_orgs=local_orgs,
                now=now,
            )
            results, rows, recipients, conflicts = (
                plan.results,
                plan.rows,
                plan.recipients,
                plan.conflicts,
            )
            clear_last, clear_first = plan.clear_last, plan.clear_first
            if clear_last:
                conn.execute(
                    "UPDATE objects SET is_last = FALSE WHERE seq = ANY(%s)", (clear_last,)
                )
            if clear_first:
                conn.execute(
                    "UPDATE objects SET is_first = FALSE WHERE seq = ANY(%s)", (clear_first,)
                )
            if rows:
                with (
                    conn.cursor() as cur2,
                    cur2.copy(
                        f"COPY objects ({_INSERT_COLUMNS}) FROM STDIN (FORMAT BINARY)"
                    ) as copy,
                ):
                    copy.set_types(_INSERT_TYPES)
                    for r in rows:
                        copy.write_row(r)
            if recipients:
                conn.execute(
                    "INSERT INTO recipients (seq, user_id) "
                    "SELECT * FROM unnest(%s::bigint[], %s::bigint[]) ON CONFLICT DO NOTHING",
                    ([s for s, _ in recipients], [u for _, u in recipients]),
                )
            if conflicts:
                with conn.cursor() as cur3:
                    cur3.executemany(
                        "INSERT INTO conflicts (at, collection_id, object_id, version, "
                        "writer_user_id, peer, json) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        conflicts,
                    )
            if any(r[6] != "2.1" for r in rows):
                self._mixed = True
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES ('mixed_spec_versions', '1') "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
                )
            if stamps:
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES ('last_date_added', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (stamps[-1],),
                )
            if audit is not None:
                self._append_audit(conn, [write_audit_event(audit, collection_id, results, now)])
        return results

    # ------------------------------------------------------------------ reads

    def query(self, query: Query) -> Page:
        where = ["collection_id = %s"]
        args: list[Any] = [query.collection_id]
        access = query.access
        mixed = self._mixed_spec_versions()
        v = query.versions
        if not v.all:
            parts = []
            scope = None if not mixed else (query.spec_versions or "same")
            if v.last:
                parts.append(self._latest(access, ">", scope, args))
            if v.first:
                parts.append(self._latest(access, "<", scope, args))
            if v.exact:
                parts.append("vkey = ANY(%s)")
                args.append([compare_key(e) for e in v.exact])
            if not parts:
                parts.append("is_last")
            where.append(parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")")
        if access is not None:
            where.append(visible_sql(access, "objects"))
        # one value: plain equality, so that (collection_id, type, date_added, seq) serves
        # the ORDER BY even before the planner has statistics (fresh bulk import)
        for column, values in (("type", query.types), ("id", query.ids)):
            if len(values) == 1:
                where.append(f"{column} = %s")
                args.append(values[0])
            elif values:
                where.append(f"{column} = ANY(%s)")
                args.append(list(values))
        if query.spec_versions:
            where.append("spec_version = ANY(%s)")
            args.append(list(query.spec_versions))
        elif mixed:
            # no match[spec_version]: only the latest spec version of each object
            where.append(
                "NOT EXISTS (SELECT 1 FROM objects o2 WHERE o2.collection_id = objects.collection_id "
                "AND o2.id = objects.id AND o2.spec_version > objects.spec_version"
                + (f" AND {visible_sql(access, 'o2')}" if access is not None else "")
                + ")"
            )
        if query.added_after:
            where.append("date_added > %s")
            args.append(query.added_after)
        if query.after is not None:
            where.append("(date_added, seq) > (%s, %s)")
            args.extend(query.after)
        sql = f"SELECT {_OBJ_COLUMNS} FROM objects WHERE {' AND '.join(where)} ORDER BY date_added, seq"
        if query.limit is not None:
            sql += " LIMIT %s"
            args.append(query.limit + 1)
        with self._conn() as conn:
            rows = [_row_to_version(r) for r in conn.execute(sql, args, binary=True)]
        more = query.limit is not None and len(rows) > query.limit
        if more:
            rows = rows[: query.limit]
        nxt = (rows[-1].date_added, rows[-1].seq) if more and rows else None
        return Page(rows=rows, more=more, next_position=nxt)

    @staticmethod
    def _latest(
        access: Access | None, direction: str, scope: str | tuple[str, ...] | None, args: list[Any]
    ) -> str:
        """The last (``>``) or first (``<``) version of each object *among those the
        caller may see* and, when several spec versions are stored, among the versions of
        the same spec version (``scope="same"``, the default rule) or of the requested
        ones: the stored flag when it is set, else no such version beyond this one."""
        flag = "objects.is_last" if direction == ">" else "objects.is_first"
        if access is None and scope is None:
            return flag
        extra = ""
        if scope == "same":
            extra = " AND o3.spec_version = objects.spec_version"
        elif isinstance(scope, tuple):
            extra = " AND o3.spec_version = ANY(%s)"
            args.append(list(scope))
        if access is not None:
            extra += f" AND {visible_sql(access, 'o3')}"
        return (
            f"({flag} OR NOT EXISTS (SELECT 1 FROM objects o3 WHERE "
            "o3.collection_id = objects.collection_id AND o3.id = objects.id AND "
            f"(o3.vkey {direction} objects.vkey OR (o3.vkey = objects.vkey AND o3.seq {direction} objects.seq))"
            f"{extra}))"
        )

    def _mixed_spec_versions(self) -> bool:
        """Whether any version of another spec than 2.1 was ever stored (rare: 2.0 input
        is upgraded on ingest), so that the common case pays nothing for the rule. A
        negative answer is re-read at most once a second (other processes may write)."""
        if not self._mixed:
            now = time.monotonic()
            if now - self._mixed_checked >= 1.0:
                with self._conn() as conn:
                    row = conn.execute(
                        "SELECT value FROM settings WHERE key = 'mixed_spec_versions'"
                    ).fetchone()
                self._mixed = row is not None and row[0] == "1"
                self._mixed_checked = now
        return self._mixed

    def iter_versions(self, collection_id: str, batch: int = 1000) -> Iterator[StoredVersion]:
        position: tuple[str, int] | None = None
        while True:
            page = self.query(
                Query(
                    collection_id=collection_id,
                    limit=batch,
                    after=position,
                    versions=VersionFilter(all=True, last=False),
                )
            )
            yield from page.rows
            if not page.more or page.next_position is None:
                return
            position = page.next_position

    def count_versions(self, collection_id: str) -> int:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT count(*) FROM objects WHERE collection_id = %s", (collection_id,)
            ).fetchone()
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------ deletes

    def delete_object(
        self,
        collection_id: str,
        object_id: str,
        versions: VersionFilter,
        spec_versions: tuple[str, ...] = (),
        *,
        access: Access | None = None,
        creator_org: int | None = None,
        audit: AuditEvent | None = None,
    ) -> int:
        """Delete the matching versions the caller may see (``access``) and, when
        ``creator_org`` is given, that this organisation created; returns how many."""
        vis = visible_sql(access, "objects") if access is not None else "TRUE"
        with self._tx(FEED_LOCK) as conn:
            rows = conn.execute(
                f"SELECT seq, vkey, spec_version, creator_org_id, {vis} FROM objects "
                "WHERE collection_id = %s AND id = %s ORDER BY vkey, seq",
                (collection_id, object_id),
            ).fetchall()
            doomed = plan_deletion(rows, versions, spec_versions, creator_org)
            if not doomed:
                return 0
            conn.execute("DELETE FROM objects WHERE seq = ANY(%s)", (doomed,))
            conn.execute("DELETE FROM recipients WHERE seq = ANY(%s)", (doomed,))
            remaining = conn.execute(
                "SELECT seq FROM objects WHERE collection_id = %s AND id = %s ORDER BY vkey, seq",
                (collection_id, object_id),
            ).fetchall()
            if remaining:
                conn.execute(
                    "UPDATE objects SET is_first = (seq = %s), is_last = (seq = %s) "
                    "WHERE collection_id = %s AND id = %s",
                    (remaining[0][0], remaining[-1][0], collection_id, object_id),
                )
            if audit is not None:
                event = deletion_event(audit, collection_id, object_id, len(doomed))
                self._append_audit(conn, [event])
            return len(doomed)
