"""The PostgreSQL implementation of the Store protocol (many processes, many hosts).

Same rules and results as tansiq.storage.sqlite, on psycopg 3 with a connection pool:
reads take an autocommit connection for one statement; writes run in one transaction;
bulk rows go in with binary COPY; paging is keyset paging on ``(date_added, seq)``.
Migrations are the ``NNNN_name.pg.sql`` files beside SQLite's (a schema change comes as
a pair of files, one per dialect); they run under a session advisory lock, so several
processes may start against a fresh database at once.

Change feed: why a cursor never skips a version
-----------------------------------------------
On PostgreSQL several processes write at once, and transactions may commit in another
order than the one in which they took their sequence numbers or timestamps. A reader
paging with ``added_after`` or ``next`` that has seen date_added D must never later find
a version with date_added < D that committed after its read (federation pulls and push
cursors would lose it for good). The store makes *visibility order equal date_added
order*:

* every transaction that changes ``objects`` (write_versions, delete_object) first takes
  ``pg_advisory_xact_lock(FEED)``;
* inside the lock it assigns date_added (``max(clock_timestamp(), last_date_added + 1 µs)``,
  one clock for every host: the database server's, ratcheted by ``settings.last_date_added``
  so it never goes back, even after a clock step or a deleted newest row) and seq (a
  block from the ``objects_seq`` sequence), and reads the versions the write is decided
  against (unchanged, conflict, creator rule, hidden collisions): that logic is race-free;
* it commits while still holding the lock. PostgreSQL releases transaction locks only
  after the commit is visible to new snapshots, so the next writer starts after it; the
  previous writer's rows are visible to every snapshot that can see the next one's.

Hence date_added strictly increases across all processes, commit order is date_added
order, and every statement snapshot of a reader sees a prefix of the feed (this also
holds on hot standbys, which replay commits in WAL order). The price is one writer at a
time for object versions, as with SQLite; writes are batched (20,000 versions per
transaction, binary COPY), so each holds the lock briefly, and readers never take it.
A visibility watermark (readers stop below the oldest in-flight writer) would let
writers overlap but needs extra state per reader and makes every page wait on the
slowest writer; for this workload the simple lock is the better trade.

Audit appends take a second lock (AUDIT), always after FEED when both are held, so a
read's audit entry never waits for an import, and the chain never forks.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from tansiq.clock import now_text
from tansiq.errors import ConfigurationError, InvalidInput
from tansiq.storage.base import (
    ApiRoot,
    Collection,
    Organisation,
    Role,
    StatusRecord,
    Token,
    User,
    chunked,
)
from tansiq.storage.pg_base import (
    AUDIT_LOCK,
    FEED_LOCK,
    MIGRATE_LOCK,
    PG_SUFFIX,
    Conn,
    lock_sql,
    migration_name,
    pg_migration_scripts,
    unlock_sql,
)
from tansiq.storage.pg_objects import PgObjects
from tansiq.storage.sqlite import COPY_TABLES
from tansiq.storage.structure import COLLECTION_COLUMNS, collections_from_rows, pick_collection

__all__ = ["PostgresStore"]

_USER_COLS = "id, name, org_id, role, disabled, password_hash IS NOT NULL"
#: The database server's time in Tansiq's timestamp text (tansiq.clock.FORMAT).
_DB_NOW = (
    "to_char((clock_timestamp() {shift}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
)


def describe(url: str) -> str:
    """``host:port/dbname`` of a connection string, without user or password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(unparsable connection string)"
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"{host}:{port}/{info.get('dbname') or info.get('user') or ''}"


class PostgresStore(PgObjects):
    """Store on one PostgreSQL database. Safe to share between threads; run as many
    processes against the same database as needed."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self._secret: bytes | None = None
        try:  # fail now, with a clear message, rather than on the first pool timeout
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as exc:
            first = " ".join(str(exc).split())
            raise ConfigurationError(
                f"cannot connect to PostgreSQL database {describe(url)}: {first}"
            ) from exc
        self._pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max(min_size, max_size),
            kwargs={"autocommit": True},
            name="tansiq",
            open=True,
        )

    def close(self) -> None:
        self._pool.close()

    # ------------------------------------------------------------------ lifecycle

    def migrate(self) -> list[str]:
        applied: list[str] = []
        with self._conn() as conn:
            conn.execute(lock_sql(MIGRATE_LOCK, session=True))
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations "
                    '(name TEXT COLLATE "C" PRIMARY KEY, applied_at TEXT NOT NULL)'
                )
                # one name per migration on both backends (earlier versions added '.pg')
                conn.execute(
                    "UPDATE schema_migrations SET name = left(name, -length(%s)) "
                    "WHERE right(name, length(%s)) = %s",
                    (PG_SUFFIX, PG_SUFFIX, PG_SUFFIX),
                )
                done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
                for name, sql in pg_migration_scripts():
                    if name in done:
                        continue
                    with conn.transaction():
                        conn.execute(sql)  # our own file, no parameters
                        conn.execute(
                            "INSERT INTO schema_migrations (name, applied_at) VALUES (%s, %s)",
                            (name, now_text()),
                        )
                    applied.append(name)
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES ('instance_secret', %s) "
                    "ON CONFLICT (key) DO NOTHING",
                    (secrets.token_hex(32),),
                )
            finally:
                if not conn.closed:
                    conn.execute(unlock_sql(MIGRATE_LOCK))
        return applied

    def applied_migrations(self) -> list[str]:
        with self._conn() as conn:
            exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
            if not exists or exists[0] is None:
                return []
            return sorted(
                migration_name(r[0]) for r in conn.execute("SELECT name FROM schema_migrations")
            )

    def check_ready(self) -> None:
        pending = {n for n, _ in pg_migration_scripts()} - set(self.applied_migrations())
        if pending:
            raise ConfigurationError(
                f"database {describe(self.url)} is not initialised or out of date; "
                "run 'tansiq init'"
            )

    def analyze(self) -> None:
        """Refresh the planner's statistics. Worth calling after a bulk import or a copy:
        until autovacuum gets to it, a freshly loaded table may be planned badly."""
        with self._conn() as conn:
            conn.execute("ANALYZE")

    def instance_secret(self) -> bytes:
        if self._secret is None:
            value = self.get_setting("instance_secret")
            if value is None:
                raise ConfigurationError("database not initialised; run 'tansiq init'")
            self._secret = bytes.fromhex(value)
        return self._secret

    def get_setting(self, key: str) -> str | None:
        with self._conn() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        with self._structure() as conn:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, value),
            )

    @contextmanager
    def _structure(self) -> Iterator[Conn]:
        """A write that changes principals, collections or settings: bumps the generation
        in the same transaction, so that every process drops its cached copies."""
        with self._tx() as conn:
            yield conn
            conn.execute(
                "INSERT INTO settings (key, value) VALUES ('generation', '1') "
                "ON CONFLICT (key) DO UPDATE SET value = (settings.value::bigint + 1)::text"
            )

    def generation(self) -> int:
        """Changes whenever principals, grants, collections or settings change."""
        with self._conn() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = 'generation'").fetchone()
        return 0 if row is None else int(row[0])

    # ------------------------------------------------------------------ organisations, users

    def add_org(self, name: str, identity: dict[str, Any]) -> Organisation:
        name_taken = f"organisation '{name}' already exists"
        identity_taken = f"identity {identity['id']} already belongs to an organisation"
        try:
            with self._structure() as conn:
                if conn.execute("SELECT 1 FROM orgs WHERE name = %s", (name,)).fetchone():
                    raise InvalidInput(name_taken)
                if conn.execute(
                    "SELECT 1 FROM orgs WHERE identity_id = %s", (identity["id"],)
                ).fetchone():
                    raise InvalidInput(identity_taken)
                row = conn.execute(
                    "INSERT INTO orgs (name, identity_id, identity, created) "
                    "VALUES (%s, %s, %s, %s) RETURNING id",
                    (name, identity["id"], orjson.dumps(identity).decode(), now_text()),
                ).fetchone()
        except pg_errors.UniqueViolation as exc:  # lost a race with another process
            taken = identity_taken if "identity" in (exc.diag.constraint_name or "") else name_taken
            raise InvalidInput(taken) from exc
        assert row is not None
        return Organisation(int(row[0]), name, identity["id"], identity)

    @staticmethod
    def _org_from_row(r: Any) -> Organisation:
        return Organisation(int(r[0]), r[1], r[2], orjson.loads(r[3]))

    def get_org(self, name_or_id: str | int) -> Organisation | None:
        with self._conn() as conn:
            if isinstance(name_or_id, int):
                row = conn.execute(
                    "SELECT id, name, identity_id, identity FROM orgs WHERE id = %s", (name_or_id,)
                ).fetchone()
            else:
                row = conn.execute(
                    "SELECT id, name, identity_id, identity FROM orgs "
                    "WHERE name = %s OR identity_id = %s ORDER BY id LIMIT 1",
                    (name_or_id, name_or_id),
                ).fetchone()
        return None if row is None else self._org_from_row(row)

    def list_orgs(self) -> list[Organisation]:
        with self._conn() as conn:
            rows = conn.execute("SELECT id, name, identity_id, identity FROM orgs ORDER BY id")
            return [self._org_from_row(r) for r in rows]

    @staticmethod
    def _user_from_row(r: Any) -> User:
        return User(int(r[0]), r[1], int(r[2]), r[3], bool(r[4]), bool(r[5]))

    def add_user(self, name: str, org_id: int, role: Role, password_hash: str | None) -> User:
        taken = f"user '{name}' already exists"
        try:
            with self._structure() as conn:
                if conn.execute("SELECT 1 FROM users WHERE name = %s", (name,)).fetchone():
                    raise InvalidInput(taken)
                row = conn.execute(
                    "INSERT INTO users (name, org_id, role, password_hash, created) "
                    "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                    (name, org_id, role, password_hash, now_text()),
                ).fetchone()
        except pg_errors.UniqueViolation as exc:
            raise InvalidInput(taken) from exc
        assert row is not None
        return User(int(row[0]), name, org_id, role, False, password_hash is not None)

    def get_user(self, name_or_id: str | int) -> User | None:
        col = "id" if isinstance(name_or_id, int) else "name"
        with self._conn() as conn:
            row = conn.execute(
                f"SELECT {_USER_COLS} FROM users WHERE {col} = %s", (name_or_id,)
            ).fetchone()
        return None if row is None else self._user_from_row(row)

    def list_users(self) -> list[User]:
        with self._conn() as conn:
            rows = conn.execute(f"SELECT {_USER_COLS} FROM users ORDER BY id")
            return [self._user_from_row(r) for r in rows]

    def user_password_hash(self, user_id: int) -> str | None:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT password_hash FROM users WHERE id = %s", (user_id,)
            ).fetchone()
        return None if row is None else row[0]

    def set_user_password_hash(self, user_id: int, password_hash: str) -> None:
        with self._structure() as conn:
            conn.execute(
                "UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id)
            )

    def set_user_disabled(self, user_id: int, disabled: bool) -> None:
        with self._structure() as conn:
            conn.execute("UPDATE users SET disabled = %s WHERE id = %s", (disabled, user_id))

    def set_user_role(self, user_id: int, role: Role) -> None:
        with self._structure() as conn:
            conn.execute("UPDATE users SET role = %s WHERE id = %s", (role, user_id))

    # ------------------------------------------------------------------ tokens

    @staticmethod
    def _token_from_row(r: Any) -> Token:
        return Token(int(r[0]), int(r[1]), r[2], r[3], r[4], bool(r[5]), r[6])

    def add_token(
        self, user_id: int, token_hash: str, expires: str | None, label: str | None
    ) -> Token:
        created = now_text()
        with self._structure() as conn:
            row = conn.execute(
                "INSERT INTO tokens (user_id, token_hash, label, created, expires) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (user_id, token_hash, label, created, expires),
            ).fetchone()
        assert row is not None
        return Token(int(row[0]), user_id, created, expires, None, False, label)

    def find_token(self, token_hash: str) -> tuple[Token, User] | None:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT t.id, t.user_id, t.created, t.expires, t.last_used, t.revoked, t.label, "
                "u.id, u.name, u.org_id, u.role, u.disabled, u.password_hash IS NOT NULL "
                "FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = %s",
                (token_hash,),
            ).fetchone()
        if row is None:
            return None
        return self._token_from_row(row), self._user_from_row(row[7:])

    def touch_token(self, token_id: int, when: str) -> None:
        with self._conn() as conn:
            conn.execute("UPDATE tokens SET last_used = %s WHERE id = %s", (when, token_id))

    def list_tokens(self, user_id: int | None = None) -> list[Token]:
        sql = "SELECT id, user_id, created, expires, last_used, revoked, label FROM tokens"
        args: tuple[Any, ...] = ()
        if user_id is not None:
            sql += " WHERE user_id = %s"
            args = (user_id,)
        with self._conn() as conn:
            rows = conn.execute(sql + " ORDER BY id", args).fetchall()
        return [self._token_from_row(r) for r in rows]

    def revoke_token(self, token_id: int) -> bool:
        with self._structure() as conn:
            cur = conn.execute(
                "UPDATE tokens SET revoked = TRUE WHERE id = %s AND NOT revoked", (token_id,)
            )
            return cur.rowcount > 0

    # ------------------------------------------------------------------ failed logins

    def login_state(self, name: str) -> tuple[int, str | None]:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT failures, locked_until FROM login_failures WHERE name = %s", (name,)
            ).fetchone()
        return (0, None) if row is None else (int(row[0]), row[1])

    def record_login_failure(self, name: str, now: str, locked_until: str | None) -> int:
        with self._conn() as conn:  # one atomic statement: concurrent failures all count
            row = conn.execute(
                "INSERT INTO login_failures (name, failures, last_failure, locked_until) "
                "VALUES (%s, 1, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                "failures = login_failures.failures + 1, "
                "last_failure = EXCLUDED.last_failure, "
                "locked_until = COALESCE(EXCLUDED.locked_until, login_failures.locked_until) "
                "RETURNING failures",
                (name, now, locked_until),
            ).fetchone()
        assert row is not None
        return int(row[0])

    def set_login_lock(self, name: str, locked_until: str) -> None:
        with self._conn() as conn:
            conn.execute(
                "UPDATE login_failures SET locked_until = %s WHERE name = %s", (locked_until, name)
            )

    def clear_login_failures(self, name: str) -> None:
        with self._conn() as conn:
            conn.execute("DELETE FROM login_failures WHERE name = %s", (name,))

    # ------------------------------------------------------------------ api roots, collections

    def add_api_root(self, root: ApiRoot) -> ApiRoot:
        taken = f"API root '{root.name}' already exists"
        try:
            with self._structure() as conn:
                if conn.execute("SELECT 1 FROM api_roots WHERE name = %s", (root.name,)).fetchone():
                    raise InvalidInput(taken)
                conn.execute(
                    "INSERT INTO api_roots (name, title, description, max_content_length) "
                    "VALUES (%s, %s, %s, %s)",
                    (root.name, root.title, root.description, root.max_content_length),
                )
        except pg_errors.UniqueViolation as exc:
            raise InvalidInput(taken) from exc
        found = self.get_api_root(root.name)
        assert found is not None
        return found

    def get_api_root(self, name: str) -> ApiRoot | None:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT name, title, description, max_content_length FROM api_roots "
                "WHERE name = %s",
                (name,),
            ).fetchone()
        return None if row is None else ApiRoot(row[0], row[1], row[2], int(row[3]))

    def list_api_roots(self) -> list[ApiRoot]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT name, title, description, max_content_length FROM api_roots ORDER BY name"
            ).fetchall()
        return [ApiRoot(r[0], r[1], r[2], int(r[3])) for r in rows]

    def add_collection(self, collection: Collection) -> Collection:
        id_taken = f"collection '{collection.id}' already exists"
        alias_taken = (
            f"a collection with alias '{collection.alias}' already exists in api root "
            f"'{collection.api_root}'"
        )
        orgs = collection.read_orgs | collection.write_orgs
        try:
            with self._structure() as conn:
                if conn.execute(
                    "SELECT 1 FROM collections WHERE id = %s", (collection.id,)
                ).fetchone():
                    raise InvalidInput(id_taken)
                if (
                    collection.alias
                    and conn.execute(
                        "SELECT 1 FROM collections WHERE api_root = %s AND alias = %s",
                        (collection.api_root, collection.alias),
                    ).fetchone()
                ):
                    raise InvalidInput(alias_taken)
                conn.execute(
                    "INSERT INTO collections (id, api_root, title, description, alias, public, "
                    "media_types, created) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        collection.id,
                        collection.api_root,
                        collection.title,
                        collection.description,
                        collection.alias,
                        collection.public,
                        " ".join(collection.media_types),
                        now_text(),
                    ),
                )
                if orgs:
                    with conn.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO grants (collection_id, org_id, can_read, can_write) "
                            "VALUES (%s, %s, %s, %s)",
                            [
                                (
                                    collection.id,
                                    o,
                                    o in collection.read_orgs,
                                    o in collection.write_orgs,
                                )
                                for o in sorted(orgs)
                            ],
                        )
        except pg_errors.UniqueViolation as exc:
            taken = alias_taken if "alias" in (exc.diag.constraint_name or "") else id_taken
            raise InvalidInput(taken) from exc
        found = self.get_collection(collection.id)
        assert found is not None
        return found

    def _collections(self, where: str, args: tuple[Any, ...]) -> list[Collection]:
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {COLLECTION_COLUMNS} FROM collections WHERE {where} ORDER BY created, id",
                args,
            ).fetchall()
            if not rows:
                return []
            grant_rows = conn.execute(
                "SELECT collection_id, org_id, can_read, can_write FROM grants "
                "WHERE collection_id = ANY(%s)",
                ([r[0] for r in rows],),
            ).fetchall()
        return collections_from_rows(rows, grant_rows)

    def get_collection(self, id_or_alias: str, api_root: str | None = None) -> Collection | None:
        if api_root is None:
            found = self._collections("id = %s OR alias = %s", (id_or_alias, id_or_alias))
        else:
            found = self._collections(
                "api_root = %s AND (id = %s OR alias = %s)", (api_root, id_or_alias, id_or_alias)
            )
        return pick_collection(found, id_or_alias)

    def list_collections(self, api_root: str | None = None) -> list[Collection]:
        if api_root is None:
            return self._collections("TRUE", ())
        return self._collections("api_root = %s", (api_root,))

    def set_grant(self, collection_id: str, org_id: int, read: bool, write: bool) -> None:
        with self._structure() as conn:
            if not read and not write:
                conn.execute(
                    "DELETE FROM grants WHERE collection_id = %s AND org_id = %s",
                    (collection_id, org_id),
                )
                return
            conn.execute(
                "INSERT INTO grants (collection_id, org_id, can_read, can_write) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (collection_id, org_id) DO UPDATE SET "
                "can_read = EXCLUDED.can_read, can_write = EXCLUDED.can_write",
                (collection_id, org_id, read, write),
            )

    # ------------------------------------------------------------------ whole-instance copy

    def _columns(self, table: str) -> list[tuple[str, str]]:
        """(name, type) of a COPY_TABLES table, in table order."""
        if table not in COPY_TABLES:
            raise InvalidInput(f"unknown table '{table}'")
        with self._conn() as conn:
            return [
                (str(r[0]), str(r[1]))
                for r in conn.execute(
                    "SELECT column_name, udt_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = %s "
                    "ORDER BY ordinal_position",
                    (table,),
                )
            ]

    def dump_rows(
        self, table: str, batch: int = 5000
    ) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        """Every row of one of COPY_TABLES, in primary-key order, streamed (server-side
        cursor: memory stays flat however big the table)."""
        columns = [c for c, _ in self._columns(table)]
        sql = f"SELECT {', '.join(columns)} FROM {table} ORDER BY {COPY_TABLES[table]}"

        def rows() -> Iterator[tuple[Any, ...]]:
            with (
                self._pooled() as conn,
                conn.transaction(),
                conn.cursor(name=f"dump_{table}", binary=True) as cur,
            ):
                cur.itersize = batch
                cur.execute(sql)
                yield from cur

        return columns, rows()

    def load_rows(self, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
        """Bulk-load rows copied from another store (same tables; SQLite's 0/1 integers
        become booleans), replacing rows with the same key; then move the id sequences
        past what was loaded. Binary COPY into a temporary table, then one upsert."""
        types = dict(self._columns(table))
        missing = [c for c in columns if c not in types]
        if missing:
            raise InvalidInput(f"table '{table}' has no column(s) {', '.join(missing)}")
        flags = [i for i, c in enumerate(columns) if types[c] == "bool"]
        keys = [k.strip() for k in COPY_TABLES[table].split(",")]
        rest = [c for c in columns if c not in keys]
        action = (
            "DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in rest)
            if rest
            else "DO NOTHING"
        )
        cols = ", ".join(columns)
        locks = {"objects": (FEED_LOCK,), "recipients": (FEED_LOCK,), "audit": (AUDIT_LOCK,)}
        count = 0
        for part in chunked(rows, 20000):
            with self._tx(*locks.get(table, ())) as conn:
                conn.execute(
                    f"CREATE TEMP TABLE load_rows (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
                )
                with (
                    conn.cursor() as cur,
                    cur.copy(f"COPY load_rows ({cols}) FROM STDIN (FORMAT BINARY)") as copy,
                ):
                    copy.set_types([types[c] for c in columns])
                    for row in part:
                        if flags:
                            row = tuple(
                                bool(v) if i in flags and v is not None else v
                                for i, v in enumerate(row)
                            )
                        copy.write_row(row)
                conn.execute(
                    f"INSERT INTO {table} ({cols}) SELECT {cols} FROM load_rows "
                    f"ON CONFLICT ({', '.join(keys)}) {action}"
                )
            count += len(part)
        self._sync_sequences(table)
        return count

    def _sync_sequences(self, table: str) -> None:
        """Move the sequences that number ``table`` past its highest loaded value."""
        with self._conn() as conn:
            targets = [
                (f"pg_get_serial_sequence('{table}', '{r[0]}')", str(r[0]))
                for r in conn.execute(
                    "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                    "AND attidentity <> '' AND NOT attisdropped",
                    (table,),
                )
            ]
            if table == "objects":
                targets.append(("'objects_seq'", "seq"))
            for seq, col in targets:
                conn.execute(
                    f"SELECT setval({seq}, m) FROM (SELECT MAX({col}) AS m FROM {table}) x "
                    f"WHERE m IS NOT NULL AND m >= nextval({seq})"
                )

    # ------------------------------------------------------------------ federation state

    def get_state(self, key: str) -> str | None:
        with self._conn() as conn:
            row = conn.execute("SELECT value FROM sync_state WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put_state(self, key: str, value: str) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO sync_state (key, value, updated) VALUES (%s, %s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
                "updated = EXCLUDED.updated",
                (key, value, now_text()),
            )

    def list_state(self, prefix: str) -> list[tuple[str, str]]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT key, value FROM sync_state WHERE left(key, %s) = %s ORDER BY key",
                (len(prefix), prefix),
            ).fetchall()
        return [(str(k), str(v)) for k, v in rows]

    def delete_state(self, prefix: str) -> int:
        with self._conn() as conn:
            cur = conn.execute(
                "DELETE FROM sync_state WHERE left(key, %s) = %s", (len(prefix), prefix)
            )
            return int(cur.rowcount)

    # ------------------------------------------------------------------ leases

    def try_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``holder`` unless another holder's lease
        is still running; True when ``holder`` now holds it. One statement (the upsert
        locks the row, so two processes never both win); times are the database
        server's, so hosts with skewed clocks agree on when a lease runs out."""
        with self._conn() as conn:
            row = conn.execute(
                f"INSERT INTO leases (name, holder, expires) VALUES (%s, %s, "
                f"{_DB_NOW.format(shift='+ make_interval(secs => %s)')}) "
                "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, "
                "expires = EXCLUDED.expires "
                f"WHERE leases.holder = EXCLUDED.holder OR leases.expires <= {_DB_NOW.format(shift='')} "
                "RETURNING holder",
                (name, holder, float(seconds)),
            ).fetchone()
        return row is not None

    def release_lease(self, name: str, holder: str) -> None:
        with self._conn() as conn:
            conn.execute("DELETE FROM leases WHERE name = %s AND holder = %s", (name, holder))

    # ------------------------------------------------------------------ status resources

    def save_status(self, status: StatusRecord) -> None:
        body = status.to_stored()
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO statuses (id, api_root, owner, expires, body) "
                "VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, expires = EXCLUDED.expires",
                (status.id, status.api_root, status.owner, status.expires, body),
            )

    def get_status(self, api_root: str, status_id: str) -> StatusRecord | None:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT body FROM statuses WHERE api_root = %s AND id = %s", (api_root, status_id)
            ).fetchone()
        if row is None:
            return None
        return StatusRecord.from_stored(row[0])

    def expire_statuses(self, now: str) -> int:
        with self._conn() as conn:
            cur = conn.execute("DELETE FROM statuses WHERE expires < %s", (now,))
            return int(cur.rowcount)

    def list_conflicts(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT at, collection_id, object_id, version, writer_user_id, peer "
                "FROM conflicts ORDER BY id DESC LIMIT %s",
                (limit,),
            ).fetchall()
        keys = ("at", "collection_id", "object_id", "version", "writer_user_id", "peer")
        return [dict(zip(keys, r, strict=True)) for r in rows]
