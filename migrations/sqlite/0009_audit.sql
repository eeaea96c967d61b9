-- The audit trail: every sign-in, change of a resource, release action, token,
-- credentials, user and setting, written with the action it records and never updated.
CREATE TABLE audit (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,             -- RFC 3339, UTC
    actor    TEXT NOT NULL,             -- `user ada`, `token ci`, or a tried user name
    action   TEXT NOT NULL,
    object   TEXT NOT NULL,
    address  TEXT,
    detail   TEXT
);
CREATE INDEX audit_by_actor ON audit (actor, id);
CREATE INDEX audit_by_action ON audit (action, id);
CREATE INDEX audit_by_object ON audit (object, id);
