-- Tansiq schema 0001: principals, TAXII structure, object versions, status resources.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE orgs (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    identity_id TEXT NOT NULL UNIQUE,
    identity    TEXT NOT NULL,
    created     TEXT NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    org_id        INTEGER NOT NULL REFERENCES orgs(id),
    role          TEXT NOT NULL,
    password_hash TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created       TEXT NOT NULL
);

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    label      TEXT,
    created    TEXT NOT NULL,
    expires    TEXT,
    last_used  TEXT,
    revoked    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE api_roots (
    name               TEXT PRIMARY KEY,
    title              TEXT NOT NULL,
    description        TEXT,
    max_content_length INTEGER NOT NULL
);

CREATE TABLE collections (
    id          TEXT PRIMARY KEY,
    api_root    TEXT NOT NULL REFERENCES api_roots(name),
    title       TEXT NOT NULL,
    description TEXT,
    alias       TEXT,
    public      INTEGER NOT NULL DEFAULT 0,
    media_types TEXT NOT NULL,
    created     TEXT NOT NULL,
    UNIQUE (api_root, alias)
);

CREATE TABLE grants (
    collection_id TEXT NOT NULL REFERENCES collections(id),
    org_id        INTEGER NOT NULL REFERENCES orgs(id),
    can_read      INTEGER NOT NULL,
    can_write     INTEGER NOT NULL,
    PRIMARY KEY (collection_id, org_id)
);

CREATE TABLE objects (
    seq            INTEGER PRIMARY KEY,
    collection_id  TEXT NOT NULL,
    id             TEXT NOT NULL,
    type           TEXT NOT NULL,
    version        TEXT NOT NULL,
    vkey           TEXT NOT NULL,
    spec_version   TEXT NOT NULL,
    date_added     TEXT NOT NULL,
    created_by     TEXT,
    markings       TEXT NOT NULL DEFAULT '',
    writer_user_id INTEGER,
    writer_org_id  INTEGER,
    peer           TEXT,
    tlp            INTEGER,
    creator_org_id INTEGER,
    is_first       INTEGER NOT NULL,
    is_last        INTEGER NOT NULL,
    body_hash      BLOB NOT NULL,
    json           BLOB NOT NULL
);
-- not UNIQUE: a writer that cannot see an existing version may store its own copy of
-- the same (id, version) (existence hiding); uniqueness among what a writer knows is
-- enforced by the write path, under the single-writer lock.
CREATE INDEX objects_by_version ON objects (collection_id, id, vkey);
CREATE INDEX objects_by_added ON objects (collection_id, date_added, seq);
CREATE INDEX objects_by_type ON objects (collection_id, type, date_added, seq);

CREATE TABLE conflicts (
    id             INTEGER PRIMARY KEY,
    at             TEXT NOT NULL,
    collection_id  TEXT NOT NULL,
    object_id      TEXT NOT NULL,
    version        TEXT NOT NULL,
    writer_user_id INTEGER,
    peer           TEXT,
    json           BLOB NOT NULL
);

CREATE TABLE statuses (
    id       TEXT PRIMARY KEY,
    api_root TEXT NOT NULL,
    owner    TEXT NOT NULL,
    expires  TEXT NOT NULL,
    body     BLOB NOT NULL
);
CREATE INDEX statuses_by_expiry ON statuses (expires);

-- TLP:RED versions: the users who may read them.
CREATE TABLE recipients (
    seq     INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    PRIMARY KEY (seq, user_id)
) WITHOUT ROWID;

-- Append-only, hash-chained audit log.
CREATE TABLE audit (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    actor         TEXT NOT NULL,
    user_id       INTEGER,
    org_id        INTEGER,
    action        TEXT NOT NULL,
    collection_id TEXT,
    detail        TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);
CREATE INDEX audit_by_collection ON audit (collection_id, id);
CREATE INDEX audit_by_user ON audit (user_id, id);

-- Consecutive failed logins per user name (slow-down / lockout).
CREATE TABLE login_failures (
    name         TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_failure TEXT NOT NULL,
    locked_until TEXT
);

-- Leases for background work that must run once across processes and hosts.
CREATE TABLE leases (
    name    TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    expires TEXT NOT NULL
);
