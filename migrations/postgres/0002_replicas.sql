-- Several servers on one database share the work through these tables (see
-- docs/operations.md, "Several replicas"). Times are milliseconds since the Unix epoch
-- read from the database's own clock, so the replicas' clocks need not agree.

-- The servers running on this database: each renews its row while it lives. A server
-- started under a name another process holds takes the name over; the older process
-- notices on its next renewal and stops working.
CREATE TABLE replicas (
    name       TEXT    PRIMARY KEY,
    boot       TEXT    NOT NULL,
    started_at TEXT    NOT NULL,
    seen_ms    BIGINT  NOT NULL
);

-- Who drives what: `release/<id>` for a running release, `trigger-poll` for the next
-- poll of the trigger environments. A lease not renewed before `expires_ms` may be taken.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_ms BIGINT  NOT NULL
);

-- The queue in front of each (product, environment): every step of a release is in
-- line from the release's start until the step ends; the oldest release in line (ids
-- sort by creation) takes its turn and `holding` marks it until it leaves.
CREATE TABLE environment_queue (
    product     TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    release_id  TEXT    NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    holding     BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (product, environment, release_id)
);
