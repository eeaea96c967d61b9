-- Declarative resources as applied, and every revision of them (who, when, what).
CREATE TABLE resources (
    kind        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    revision    INTEGER NOT NULL,
    document    TEXT    NOT NULL,              -- canonical YAML of the resource
    updated_at  TEXT    NOT NULL,              -- RFC 3339, UTC
    updated_by  TEXT    NOT NULL,
    PRIMARY KEY (kind, name)
);

CREATE TABLE resource_revisions (
    kind        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    revision    INTEGER NOT NULL,
    change      TEXT    NOT NULL CHECK (change IN ('created', 'updated', 'deleted')),
    document    TEXT,                          -- NULL for a deletion
    applied_at  TEXT    NOT NULL,
    applied_by  TEXT    NOT NULL,
    PRIMARY KEY (kind, name, revision)
);
