"""The embedded SQLite implementation of the Store protocol.

WAL mode, one writer (``BEGIN IMMEDIATE`` plus a process lock), many readers (one
connection per thread). Paging is keyset paging on ``(date_added, seq)``; ``date_added``
is strictly increasing across the store (kept in ``settings`` so that several processes
sharing one file agree).
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from tansiq.clock import MonotonicClock, after, now_text
from tansiq.errors import ConfigurationError, InvalidInput
from tansiq.stix.timestamps import compare_key
from tansiq.storage.audit_chain import (
    audit_select,
    chain_rows,
    deletion_event,
    parse_head,
    write_audit_event,
)
from tansiq.storage.base import (
    Access,
    ApiRoot,
    AuditEvent,
    AuditRow,
    Collection,
    NewVersion,
    Organisation,
    Page,
    Principal,
    Query,
    Role,
    StatusRecord,
    StoredVersion,
    Token,
    User,
    VersionFilter,
    WriteResult,
    chunked,
)
from tansiq.storage.identity import body_hash
from tansiq.storage.structure import COLLECTION_COLUMNS, collections_from_rows, pick_collection
from tansiq.storage.visibility import known_to_writer_sql, visible_sql
from tansiq.storage.write_plan import ROW_COLUMNS, plan_deletion, plan_writes

#: Tables of a whole instance, in the order they must be copied, with their sort key.
COPY_TABLES: dict[str, str] = {
    "settings": "key",
    "orgs": "id",
    "users": "id",
    "tokens": "id",
    "api_roots": "name",
    "collections": "id",
    "grants": "collection_id, org_id",
    "objects": "seq",
    "recipients": "seq, user_id",
    "conflicts": "id",
    "statuses": "id",
    "audit": "id",
    "login_failures": "name",
    "leases": "name",
    "sync_state": "key",
}

_OBJ_COLUMNS = (
    "seq, collection_id, id, type, version, spec_version, date_added, created_by, markings, "
    "json, writer_user_id, writer_org_id, peer"
)
_MAX_VARS = 500


def _row_to_version(r: tuple[Any, ...]) -> StoredVersion:
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


def migration_scripts(dialect: str = "sqlite") -> list[tuple[str, str]]:
    """(name, sql) of every migration in order."""
    folder = resources.files("tansiq.storage").joinpath("migrations")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        name = entry.name
        if not name.endswith(".sql"):
            continue
        if dialect == "sqlite" and ".pg." in name:
            continue
        out.append((name.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
    return out


class _AuditMixin:
    """Audit log storage for SQLiteStore (appends happen under the single-writer lock)."""

    @property
    def conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _append_audit(self, conn: sqlite3.Connection, events: Sequence[AuditEvent]) -> None:
        # chain onto the *recorded* head, not onto whatever the table ends with: rows
        # removed or appended behind Tansiq's back then stay visible to `audit verify`
        head = conn.execute("SELECT value FROM settings WHERE key = 'audit_head'").fetchone()
        top = conn.execute("SELECT MAX(id) FROM audit").fetchone()[0]
        rows, new_head = chain_rows(head[0] if head else None, top, events, now_text())
        conn.executemany(
            "INSERT INTO audit (id, at, actor, user_id, org_id, action, collection_id, detail, "
            "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute(
            "INSERT INTO settings (key, value) VALUES ('audit_head', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (new_head,),
        )

    def audit_head(self) -> tuple[int, str] | None:
        row = self.conn.execute("SELECT value FROM settings WHERE key = 'audit_head'").fetchone()
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
            "?",
            user_id=user_id,
            org_id=org_id,
            collection_id=collection_id,
            since=since,
            until=until,
        )
        position = -1
        while True:
            rows = self.conn.execute(sql, (position, *fixed, batch)).fetchall()
            for r in rows:
                yield AuditRow(*r)
            if len(rows) < batch:
                return
            position = rows[-1][0]


class SQLiteStore(_AuditMixin):
    """Store on one SQLite file. Safe to share between threads of one process."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = str(path)
        if not create and self.path != ":memory:" and not Path(self.path).exists():
            raise ConfigurationError(
                f"database {self.path} does not exist; run 'tansiq init' first"
            )
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._clock = MonotonicClock()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._secret: bytes | None = None
        self._mixed = False
        self._mixed_checked = -1.0

    # ------------------------------------------------------------------ connections

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA cache_size=-16000")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA wal_autocheckpoint=8000")
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    @contextmanager
    def _write_structure(self) -> Iterator[sqlite3.Connection]:
        """A write that changes principals, collections or settings: bumps the generation
        in the same transaction, so that every process drops its cached copies."""
        with self._write() as conn:
            yield conn
            conn.execute(
                "INSERT INTO settings (key, value) VALUES ('generation', '1') "
                "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )

    def generation(self) -> int:
        """Changes whenever principals, grants, collections or settings change."""
        row = self.conn.execute("SELECT value FROM settings WHERE key = 'generation'").fetchone()
        return 0 if row is None else int(row[0])

    def close(self) -> None:
        with self._conns_lock:
            for c in self._conns:
                with suppress(sqlite3.Error):
                    c.close()
            self._conns.clear()
        self._local = threading.local()

    # ------------------------------------------------------------------ lifecycle

    def migrate(self) -> list[str]:
        conn = self.conn
        with self._write_lock:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
            applied = []
            for name, sql in migration_scripts("sqlite"):
                if name in done:
                    continue
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _split_sql(sql):
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                        (name, now_text()),
                    )
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                applied.append(name)
            if self.get_setting("instance_secret") is None:
                self.set_setting("instance_secret", secrets.token_hex(32))
        return applied

    def applied_migrations(self) -> list[str]:
        try:
            return [
                r[0] for r in self.conn.execute("SELECT name FROM schema_migrations ORDER BY name")
            ]
        except sqlite3.OperationalError:
            return []

    def check_ready(self) -> None:
        pending = {n for n, _ in migration_scripts("sqlite")} - set(self.applied_migrations())
        if pending:
            raise ConfigurationError(
                f"database {self.path} is not initialised or out of date; run 'tansiq init'"
            )

    def instance_secret(self) -> bytes:
        if self._secret is None:
            value = self.get_setting("instance_secret")
            if value is None:
                raise ConfigurationError("database not initialised; run 'tansiq init'")
            self._secret = bytes.fromhex(value)
        return self._secret

    def get_setting(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        with self._write_structure() as conn:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # ------------------------------------------------------------------ organisations, users

    def add_org(self, name: str, identity: dict[str, Any]) -> Organisation:
        with self._write_structure() as conn:
            if conn.execute("SELECT 1 FROM orgs WHERE name = ?", (name,)).fetchone():
                raise InvalidInput(f"organisation '{name}' already exists")
            if conn.execute(
                "SELECT 1 FROM orgs WHERE identity_id = ?", (identity["id"],)
            ).fetchone():
                raise InvalidInput(f"identity {identity['id']} already belongs to an organisation")
            cur = conn.execute(
                "INSERT INTO orgs (name, identity_id, identity, created) VALUES (?, ?, ?, ?)",
                (name, identity["id"], orjson.dumps(identity).decode(), now_text()),
            )
            org_id = int(cur.lastrowid or 0)
        return Organisation(org_id, name, identity["id"], identity)

    def _org_from_row(self, r: tuple[Any, ...]) -> Organisation:
        return Organisation(int(r[0]), r[1], r[2], orjson.loads(r[3]))

    def get_org(self, name_or_id: str | int) -> Organisation | None:
        if isinstance(name_or_id, int):
            sql, arg = "SELECT id, name, identity_id, identity FROM orgs WHERE id = ?", name_or_id
            row = self.conn.execute(sql, (arg,)).fetchone()
        else:
            row = self.conn.execute(
                "SELECT id, name, identity_id, identity FROM orgs WHERE name = ? OR identity_id = ?",
                (name_or_id, name_or_id),
            ).fetchone()
        return None if row is None else self._org_from_row(row)

    def list_orgs(self) -> list[Organisation]:
        rows = self.conn.execute("SELECT id, name, identity_id, identity FROM orgs ORDER BY id")
        return [self._org_from_row(r) for r in rows]

    _USER_COLS = "id, name, org_id, role, disabled, password_hash IS NOT NULL"

    def _user_from_row(self, r: tuple[Any, ...]) -> User:
        return User(int(r[0]), r[1], int(r[2]), r[3], bool(r[4]), bool(r[5]))

    def add_user(self, name: str, org_id: int, role: Role, password_hash: str | None) -> User:
        with self._write_structure() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise InvalidInput(f"user '{name}' already exists")
            cur = conn.execute(
                "INSERT INTO users (name, org_id, role, password_hash, created) VALUES (?, ?, ?, ?, ?)",
                (name, org_id, role, password_hash, now_text()),
            )
            user_id = int(cur.lastrowid or 0)
        return User(user_id, name, org_id, role, False, password_hash is not None)

    def get_user(self, name_or_id: str | int) -> User | None:
        col = "id" if isinstance(name_or_id, int) else "name"
        row = self.conn.execute(
            f"SELECT {self._USER_COLS} FROM users WHERE {col} = ?", (name_or_id,)
        ).fetchone()
        return None if row is None else self._user_from_row(row)

    def list_users(self) -> list[User]:
        rows = self.conn.execute(f"SELECT {self._USER_COLS} FROM users ORDER BY id")
        return [self._user_from_row(r) for r in rows]

    def user_password_hash(self, user_id: int) -> str | None:
        row = self.conn.execute(
            "SELECT password_hash FROM users WHERE id = ?", (user_id,)
        ).fetchone()
        return None if row is None else row[0]

    def set_user_password_hash(self, user_id: int, password_hash: str) -> None:
        with self._write_structure() as conn:
            conn.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id)
            )

    def add_token(
        self, user_id: int, token_hash: str, expires: str | None, label: str | None
    ) -> Token:
        created = now_text()
        with self._write_structure() as conn:
            cur = conn.execute(
                "INSERT INTO tokens (user_id, token_hash, label, created, expires) VALUES (?, ?, ?, ?, ?)",
                (user_id, token_hash, label, created, expires),
            )
            token_id = int(cur.lastrowid or 0)
        return Token(token_id, user_id, created, expires, None, False, label)

    def find_token(self, token_hash: str) -> tuple[Token, User] | None:
        row = self.conn.execute(
            "SELECT t.id, t.user_id, t.created, t.expires, t.last_used, t.revoked, t.label, "
            "u.id, u.name, u.org_id, u.role, u.disabled, u.password_hash IS NOT NULL "
            "FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
            (token_hash,),
        ).fetchone()
        if row is None:
            return None
        token = Token(int(row[0]), int(row[1]), row[2], row[3], row[4], bool(row[5]), row[6])
        return token, self._user_from_row(row[7:])

    def touch_token(self, token_id: int, when: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE tokens SET last_used = ? WHERE id = ?", (when, token_id))

    def list_tokens(self, user_id: int | None = None) -> list[Token]:
        sql = "SELECT id, user_id, created, expires, last_used, revoked, label FROM tokens"
        args: tuple[Any, ...] = ()
        if user_id is not None:
            sql += " WHERE user_id = ?"
            args = (user_id,)
        rows = self.conn.execute(sql + " ORDER BY id", args).fetchall()
        return [Token(int(r[0]), int(r[1]), r[2], r[3], r[4], bool(r[5]), r[6]) for r in rows]

    def revoke_token(self, token_id: int) -> bool:
        with self._write_structure() as conn:
            cur = conn.execute(
                "UPDATE tokens SET revoked = 1 WHERE id = ? AND revoked = 0", (token_id,)
            )
            return cur.rowcount > 0

    def set_user_disabled(self, user_id: int, disabled: bool) -> None:
        with self._write_structure() as conn:
            conn.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), user_id))

    def set_user_role(self, user_id: int, role: Role) -> None:
        with self._write_structure() as conn:
            conn.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))

    def login_state(self, name: str) -> tuple[int, str | None]:
        row = self.conn.execute(
            "SELECT failures, locked_until FROM login_failures WHERE name = ?", (name,)
        ).fetchone()
        return (0, None) if row is None else (int(row[0]), row[1])

    def record_login_failure(self, name: str, now: str, locked_until: str | None) -> int:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO login_failures (name, failures, last_failure, locked_until) "
                "VALUES (?, 1, ?, ?) ON CONFLICT(name) DO UPDATE SET failures = failures + 1, "
                "last_failure = excluded.last_failure, "
                "locked_until = COALESCE(excluded.locked_until, locked_until)",
                (name, now, locked_until),
            )
            row = conn.execute(
                "SELECT failures FROM login_failures WHERE name = ?", (name,)
            ).fetchone()
            return int(row[0])

    def set_login_lock(self, name: str, locked_until: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE login_failures SET locked_until = ? WHERE name = ?", (locked_until, name)
            )

    def clear_login_failures(self, name: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM login_failures WHERE name = ?", (name,))

    # ------------------------------------------------------------------ api roots, collections

    def add_api_root(self, root: ApiRoot) -> ApiRoot:
        with self._write_structure() as conn:
            if conn.execute("SELECT 1 FROM api_roots WHERE name = ?", (root.name,)).fetchone():
                raise InvalidInput(f"API root '{root.name}' already exists")
            conn.execute(
                "INSERT INTO api_roots (name, title, description, max_content_length) VALUES (?, ?, ?, ?)",
                (root.name, root.title, root.description, root.max_content_length),
            )
        found = self.get_api_root(root.name)
        assert found is not None
        return found

    def get_api_root(self, name: str) -> ApiRoot | None:
        row = self.conn.execute(
            "SELECT name, title, description, max_content_length FROM api_roots WHERE name = ?",
            (name,),
        ).fetchone()
        return None if row is None else ApiRoot(row[0], row[1], row[2], int(row[3]))

    def list_api_roots(self) -> list[ApiRoot]:
        rows = self.conn.execute(
            "SELECT name, title, description, max_content_length FROM api_roots ORDER BY name"
        )
        return [ApiRoot(r[0], r[1], r[2], int(r[3])) for r in rows]

    def add_collection(self, collection: Collection) -> Collection:
        with self._write_structure() as conn:
            if conn.execute("SELECT 1 FROM collections WHERE id = ?", (collection.id,)).fetchone():
                raise InvalidInput(f"collection '{collection.id}' already exists")
            if (
                collection.alias
                and conn.execute(
                    "SELECT 1 FROM collections WHERE api_root = ? AND alias = ?",
                    (collection.api_root, collection.alias),
                ).fetchone()
            ):
                raise InvalidInput(
                    f"a collection with alias '{collection.alias}' already exists in api root "
                    f"'{collection.api_root}'"
                )
            conn.execute(
                "INSERT INTO collections (id, api_root, title, description, alias, public, media_types, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    collection.id,
                    collection.api_root,
                    collection.title,
                    collection.description,
                    collection.alias,
                    int(collection.public),
                    " ".join(collection.media_types),
                    now_text(),
                ),
            )
            orgs = collection.read_orgs | collection.write_orgs
            conn.executemany(
                "INSERT INTO grants (collection_id, org_id, can_read, can_write) VALUES (?, ?, ?, ?)",
                [
                    (
                        collection.id,
                        o,
                        int(o in collection.read_orgs),
                        int(o in collection.write_orgs),
                    )
                    for o in sorted(orgs)
                ],
            )
        found = self.get_collection(collection.id)
        assert found is not None
        return found

    def _collections(self, where: str, args: tuple[Any, ...]) -> list[Collection]:
        rows = self.conn.execute(
            f"SELECT {COLLECTION_COLUMNS} FROM collections WHERE {where} ORDER BY created, id",
            args,
        ).fetchall()
        grant_rows: list[tuple[Any, ...]] = []
        for chunk in chunked([r[0] for r in rows], _MAX_VARS):
            marks = ",".join("?" * len(chunk))
            grant_rows += self.conn.execute(
                "SELECT collection_id, org_id, can_read, can_write FROM grants "
                f"WHERE collection_id IN ({marks})",
                chunk,
            ).fetchall()
        return collections_from_rows(rows, grant_rows)

    def get_collection(self, id_or_alias: str, api_root: str | None = None) -> Collection | None:
        if api_root is None:
            found = self._collections("id = ? OR alias = ?", (id_or_alias, id_or_alias))
        else:
            found = self._collections(
                "api_root = ? AND (id = ? OR alias = ?)", (api_root, id_or_alias, id_or_alias)
            )
        return pick_collection(found, id_or_alias)

    def list_collections(self, api_root: str | None = None) -> list[Collection]:
        if api_root is None:
            return self._collections("1 = 1", ())
        return self._collections("api_root = ?", (api_root,))

    def set_grant(self, collection_id: str, org_id: int, read: bool, write: bool) -> None:
        with self._write_structure() as conn:
            if not read and not write:
                conn.execute(
                    "DELETE FROM grants WHERE collection_id = ? AND org_id = ?",
                    (collection_id, org_id),
                )
                return
            conn.execute(
                "INSERT INTO grants (collection_id, org_id, can_read, can_write) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(collection_id, org_id) DO UPDATE SET can_read = excluded.can_read, "
                "can_write = excluded.can_write",
                (collection_id, org_id, int(read), int(write)),
            )

    # ------------------------------------------------------------------ objects: writes

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
        """Write versions; one result per input. ``access`` (the writer's view) decides
        which existing versions the writer knows about: only those can make a post
        "unchanged", a "conflict" or a creator mismatch, so that a write never reveals a
        version the writer may not see. ``audit`` is recorded in the same transaction."""
        results: list[WriteResult] = []
        for chunk in chunked(versions, 20000):
            results.extend(self._write_chunk(collection_id, chunk, writer, peer, access, audit))
        if not versions and audit is not None:
            with self._write() as conn:
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
        with self._write() as conn:
            local_orgs = {
                identity: int(org)
                for org, identity in conn.execute("SELECT id, identity_id FROM orgs")
            }
            known_expr = known_to_writer_sql(access) if access is not None else "1"
            # every stored version of these ids: [vkey, hash, seq, first, last, version, created_by, known]
            known: dict[str, list[list[Any]]] = {}
            ids = list({v.id for v in chunk})
            for part in chunked(ids, _MAX_VARS):
                marks = ",".join("?" * len(part))
                for oid, vkey, h, seq, first, last, vtext, created_by, visible in conn.execute(
                    "SELECT id, vkey, body_hash, seq, is_first, is_last, version, created_by, "
                    f"{known_expr} FROM objects WHERE collection_id = ? AND id IN ({marks})",
                    (collection_id, *part),
                ):
                    known.setdefault(oid, []).append(
                        [vkey, bytes(h), seq, first, last, vtext, created_by, bool(visible)]
                    )
            last_added = conn.execute(
                "SELECT value FROM settings WHERE key = 'last_date_added'"
            ).fetchone()
            self._clock.observe(last_added[0] if last_added else None)
            next_seq = (
                int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM objects").fetchone()[0]) + 1
            )

            stamps = self._clock.next_block(len(chunk))
            now = stamps[0] if stamps else now_text()
            hashes = [
                nv.hash or body_hash(nv.obj if nv.obj is not None else orjson.loads(nv.json))
                for nv in chunk
            ]
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
            if plan.clear_last:
                conn.executemany(
                    "UPDATE objects SET is_last = 0 WHERE seq = ?", [(s,) for s in plan.clear_last]
                )
            if plan.clear_first:
                conn.executemany(
                    "UPDATE objects SET is_first = 0 WHERE seq = ?",
                    [(s,) for s in plan.clear_first],
                )
            if plan.rows:
                conn.executemany(
                    f"INSERT INTO objects ({ROW_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    plan.rows,
                )
            if plan.recipients:
                conn.executemany(
                    "INSERT OR IGNORE INTO recipients (seq, user_id) VALUES (?, ?)", plan.recipients
                )
            if plan.conflicts:
                conn.executemany(
                    "INSERT INTO conflicts (at, collection_id, object_id, version, writer_user_id, peer, json) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    plan.conflicts,
                )
            if plan.mixed_spec:
                self._mixed = True
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES ('mixed_spec_versions', '1') "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
                )
            if stamps:
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES ('last_date_added', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (stamps[-1],),
                )
            if audit is not None:
                self._append_audit(
                    conn, [write_audit_event(audit, collection_id, plan.results, now)]
                )
        return plan.results

    # ------------------------------------------------------------------ objects: reads

    def query(self, query: Query) -> Page:
        where = ["collection_id = ?"]
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
                parts.append(f"vkey IN ({','.join('?' * len(v.exact))})")
                args.extend(compare_key(e) for e in v.exact)
            if not parts:
                parts.append("is_last = 1")
            where.append(parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")")
        if access is not None:
            where.append(visible_sql(access, "objects"))
        if query.types:
            where.append(f"type IN ({','.join('?' * len(query.types))})")
            args.extend(query.types)
        if query.ids:
            where.append(f"id IN ({','.join('?' * len(query.ids))})")
            args.extend(query.ids)
        if query.spec_versions:
            where.append(f"spec_version IN ({','.join('?' * len(query.spec_versions))})")
            args.extend(query.spec_versions)
        elif mixed:
            # no match[spec_version]: only the latest spec version of each object
            where.append(
                "NOT EXISTS (SELECT 1 FROM objects o2 WHERE o2.collection_id = objects.collection_id "
                "AND o2.id = objects.id AND o2.spec_version > objects.spec_version"
                + (f" AND {visible_sql(access, 'o2')}" if access is not None else "")
                + ")"
            )
        if query.added_after:
            where.append("date_added > ?")
            args.append(query.added_after)
        if query.after is not None:
            where.append("(date_added, seq) > (?, ?)")
            args.extend(query.after)
        sql = f"SELECT {_OBJ_COLUMNS} FROM objects WHERE {' AND '.join(where)} ORDER BY date_added, seq"
        if query.limit is not None:
            sql += " LIMIT ?"
            args.append(query.limit + 1)
        rows = [_row_to_version(r) for r in self.conn.execute(sql, args)]
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
        flag = "is_last" if direction == ">" else "is_first"
        if access is None and scope is None:
            return f"{flag} = 1"
        extra = ""
        if scope == "same":
            extra = " AND o3.spec_version = objects.spec_version"
        elif isinstance(scope, tuple):
            extra = f" AND o3.spec_version IN ({','.join('?' * len(scope))})"
            args.extend(scope)
        if access is not None:
            extra += f" AND {visible_sql(access, 'o3')}"
        return (
            f"({flag} = 1 OR NOT EXISTS (SELECT 1 FROM objects o3 WHERE "
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
                self._mixed = self.get_setting("mixed_spec_versions") == "1"
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
        row = self.conn.execute(
            "SELECT count(*) FROM objects WHERE collection_id = ?", (collection_id,)
        ).fetchone()
        return int(row[0])

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
        vis = visible_sql(access, "objects") if access is not None else "1"
        with self._write() as conn:
            rows = conn.execute(
                f"SELECT seq, vkey, spec_version, creator_org_id, {vis} FROM objects "
                "WHERE collection_id = ? AND id = ? ORDER BY vkey, seq",
                (collection_id, object_id),
            ).fetchall()
            doomed = plan_deletion(rows, versions, spec_versions, creator_org)
            if not doomed:
                return 0
            conn.executemany("DELETE FROM objects WHERE seq = ?", [(s,) for s in doomed])
            conn.executemany("DELETE FROM recipients WHERE seq = ?", [(s,) for s in doomed])
            remaining = conn.execute(
                "SELECT seq FROM objects WHERE collection_id = ? AND id = ? ORDER BY vkey, seq",
                (collection_id, object_id),
            ).fetchall()
            if remaining:
                conn.execute(
                    "UPDATE objects SET is_first = (seq = ?), is_last = (seq = ?) "
                    "WHERE collection_id = ? AND id = ?",
                    (remaining[0][0], remaining[-1][0], collection_id, object_id),
                )
            if audit is not None:
                event = deletion_event(audit, collection_id, object_id, len(doomed))
                self._append_audit(conn, [event])
            return len(doomed)

    def append_audit(self, events: Sequence[AuditEvent]) -> None:
        if events:
            with self._write() as conn:
                self._append_audit(conn, events)

    # ------------------------------------------------------------------ whole-instance copy

    def dump_rows(
        self, table: str, batch: int = 5000
    ) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        """Every row of one of COPY_TABLES, in primary-key order, streamed."""
        if table not in COPY_TABLES:
            raise InvalidInput(f"unknown table '{table}'")
        columns = [r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")]
        order = COPY_TABLES[table]

        def rows() -> Iterator[tuple[Any, ...]]:
            cur = self._connect().execute(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"
            )
            while True:
                chunk = cur.fetchmany(batch)
                if not chunk:
                    return
                for r in chunk:
                    yield tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)

        return columns, rows()

    def load_rows(self, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
        """Bulk-insert rows copied from another store (same schema), in batches."""
        if table not in COPY_TABLES:
            raise InvalidInput(f"unknown table '{table}'")
        mine = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
        missing = [c for c in columns if c not in mine]
        if missing:
            raise InvalidInput(f"table '{table}' has no column(s) {', '.join(missing)}")
        sql = (
            f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )
        count = 0
        for part in chunked(rows, 5000):
            with self._write() as conn:
                conn.executemany(sql, part)
            count += len(part)
        return count

    # ------------------------------------------------------------------ federation state

    def get_state(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put_state(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO sync_state (key, value, updated) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                (key, value, now_text()),
            )

    def list_state(self, prefix: str) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            "SELECT key, value FROM sync_state WHERE substr(key, 1, ?) = ? ORDER BY key",
            (len(prefix), prefix),
        ).fetchall()
        return [(str(k), str(v)) for k, v in rows]

    def delete_state(self, prefix: str) -> int:
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM sync_state WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
            )
            return int(cur.rowcount)

    # ------------------------------------------------------------------ leases

    def try_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``holder`` unless another holder's lease
        is still running; True when ``holder`` now holds it."""
        now = now_text()
        until = after(now, int(seconds * 1_000_000))
        with self._write() as conn:
            row = conn.execute(
                "SELECT holder, expires FROM leases WHERE name = ?", (name,)
            ).fetchone()
            if row is not None and row[0] != holder and row[1] > now:
                return False
            conn.execute(
                "INSERT INTO leases (name, holder, expires) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires",
                (name, holder, until),
            )
            return True

    def release_lease(self, name: str, holder: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    # ------------------------------------------------------------------ status resources

    def save_status(self, status: StatusRecord) -> None:
        body = status.to_stored()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO statuses (id, api_root, owner, expires, body) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET body = excluded.body, expires = excluded.expires",
                (status.id, status.api_root, status.owner, status.expires, body),
            )

    def get_status(self, api_root: str, status_id: str) -> StatusRecord | None:
        row = self.conn.execute(
            "SELECT body FROM statuses WHERE api_root = ? AND id = ?", (api_root, status_id)
        ).fetchone()
        if row is None:
            return None
        return StatusRecord.from_stored(row[0])

    def expire_statuses(self, now: str) -> int:
        with self._write() as conn:
            cur = conn.execute("DELETE FROM statuses WHERE expires < ?", (now,))
            return int(cur.rowcount)

    def list_conflicts(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT at, collection_id, object_id, version, writer_user_id, peer FROM conflicts "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        keys = ("at", "collection_id", "object_id", "version", "writer_user_id", "peer")
        return [dict(zip(keys, r, strict=True)) for r in rows]


def _split_sql(sql: str) -> list[str]:
    """Split a migration script into statements (no semicolons inside our literals)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
