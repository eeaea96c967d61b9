-- Approvals of release gates: one row per person per gate, so nobody counts twice.
CREATE TABLE release_approvals (
    release_id  TEXT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    environment TEXT NOT NULL,
    gate        INTEGER NOT NULL,           -- index in the step's `detail.gates`
    user_name   TEXT NOT NULL,
    role        TEXT NOT NULL,
    at          TEXT NOT NULL,              -- RFC 3339, UTC
    PRIMARY KEY (release_id, environment, gate, user_name)
);
