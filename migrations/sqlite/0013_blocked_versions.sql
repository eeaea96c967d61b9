-- Stop the line: versions of a product no release may carry further
-- (docs/resources.md, "Blocking a version").
CREATE TABLE blocked_versions (
    product    TEXT NOT NULL,
    version    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    blocked_by TEXT NOT NULL,
    blocked_at TEXT NOT NULL,
    PRIMARY KEY (product, version)
);
