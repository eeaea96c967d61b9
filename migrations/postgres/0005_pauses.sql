-- Paused products and environments (docs/resources.md, "Pausing"): releases hold before
-- their next step there. `environment` is '' for the whole product.
CREATE TABLE pauses (
    product     TEXT NOT NULL,
    environment TEXT NOT NULL,
    reason      TEXT NOT NULL,
    paused_by   TEXT NOT NULL,
    paused_at   TEXT NOT NULL,
    PRIMARY KEY (product, environment)
);
