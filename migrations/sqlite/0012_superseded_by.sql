-- `concurrency: supersede` (docs/resources.md, Product): the status `superseded`, and the
-- newer release that replaced a release waiting for an environment. SQLite cannot change
-- a CHECK in place, so the table is rebuilt as its documentation describes: a new table,
-- the rows copied, the old one dropped, the new one renamed. Migrations run with foreign
-- keys off (engine/src/store/mod.rs), so dropping the old table leaves the rows that
-- refer to releases (steps, events, logs, approvals) alone, and they refer to the new
-- table once it has the name.
CREATE TABLE releases_new (
    id              TEXT PRIMARY KEY,
    product         TEXT NOT NULL,
    flow            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'terminated', 'superseded')),
    source          TEXT NOT NULL,              -- JSON: the frozen source snapshot
    message         TEXT NOT NULL DEFAULT '',
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,              -- RFC 3339, UTC
    finished_at     TEXT,
    created_by_kind TEXT NOT NULL DEFAULT 'user',
    superseded_by   TEXT
);
INSERT INTO releases_new
    (id, product, flow, status, source, message, created_by, created_at, finished_at, created_by_kind)
SELECT id, product, flow, status, source, message, created_by, created_at, finished_at, created_by_kind
FROM releases;
DROP TABLE releases;
ALTER TABLE releases_new RENAME TO releases;
CREATE INDEX releases_by_product ON releases (product, created_at);
CREATE INDEX releases_by_status ON releases (status);
