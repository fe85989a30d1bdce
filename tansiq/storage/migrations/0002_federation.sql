-- Tansiq schema 0002: federation state (peers, cursors, per-object failures), as JSON
-- documents under path-like keys ("peer/NAME", "cursor/NAME/pull/REMOTE/LOCAL", ...).
-- Kept apart from settings: a cursor moves with every page and must not invalidate the
-- caches that settings changes invalidate.
CREATE TABLE sync_state (
    key     TEXT PRIMARY KEY,
    value   TEXT NOT NULL,
    updated TEXT NOT NULL
);
