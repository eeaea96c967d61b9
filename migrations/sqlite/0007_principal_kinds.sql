-- Users and API tokens are distinct principals: a user and a token of the same name
-- are never one approver, nor the same person for the four-eyes rule. Releases and
-- approvals made before this migration were recorded by name only and count as users.
ALTER TABLE releases ADD COLUMN created_by_kind TEXT NOT NULL DEFAULT 'user';

CREATE TABLE release_approvals_by_kind (
    release_id  TEXT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    environment TEXT NOT NULL,
    gate        INTEGER NOT NULL,           -- index in the step's `detail.gates`
    user_name   TEXT NOT NULL,
    user_kind   TEXT NOT NULL DEFAULT 'user', -- user, token or system
    role        TEXT NOT NULL,
    at          TEXT NOT NULL,              -- RFC 3339, UTC
    PRIMARY KEY (release_id, environment, gate, user_kind, user_name)
);
INSERT INTO release_approvals_by_kind (release_id, environment, gate, user_name, role, at)
    SELECT release_id, environment, gate, user_name, role, at FROM release_approvals;
DROP TABLE release_approvals;
ALTER TABLE release_approvals_by_kind RENAME TO release_approvals;
