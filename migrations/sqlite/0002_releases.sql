-- Releases: one run of a flow for one product version, with its steps (one per
-- environment), per-application results, an append-only event log and step logs.
CREATE TABLE releases (
    id          TEXT PRIMARY KEY,
    product     TEXT NOT NULL,
    flow        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'terminated')),
    source      TEXT NOT NULL,              -- JSON: the frozen source snapshot
    message     TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,              -- RFC 3339, UTC
    finished_at TEXT
);
CREATE INDEX releases_by_product ON releases (product, created_at);
CREATE INDEX releases_by_status ON releases (status);

CREATE TABLE release_steps (
    release_id  TEXT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    environment TEXT NOT NULL,
    position    INTEGER NOT NULL,           -- topological order, for display
    depends_on  TEXT NOT NULL,              -- JSON array of environment names
    status      TEXT NOT NULL,
    action      TEXT NOT NULL,              -- commit, pr or none
    attempt     INTEGER NOT NULL DEFAULT 0,
    detail      TEXT NOT NULL DEFAULT '{}', -- JSON: commits, pull request, error
    started_at  TEXT,
    finished_at TEXT,
    PRIMARY KEY (release_id, environment)
);

CREATE TABLE release_applications (
    release_id    TEXT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    environment   TEXT NOT NULL,
    application   TEXT NOT NULL,
    status        TEXT NOT NULL,
    version       TEXT,
    commit_sha    TEXT,
    files_changed INTEGER NOT NULL DEFAULT 0,
    lines_added   INTEGER NOT NULL DEFAULT 0,
    lines_removed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (release_id, environment, application)
);

-- Append-only; `seq` is the server-sent events id, so a client resumes with Last-Event-ID.
CREATE TABLE release_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id  TEXT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    environment TEXT,
    data        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX release_events_by_release ON release_events (release_id, seq);

CREATE TABLE step_logs (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id  TEXT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    environment TEXT NOT NULL,
    at          TEXT NOT NULL,
    level       TEXT NOT NULL,
    message     TEXT NOT NULL
);
CREATE INDEX step_logs_by_step ON step_logs (release_id, environment, seq);
