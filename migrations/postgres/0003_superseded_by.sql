-- `concurrency: supersede` (docs/resources.md, Product): the status `superseded`, and the
-- newer release that replaced a release waiting for an environment.
ALTER TABLE releases DROP CONSTRAINT releases_status_check;
ALTER TABLE releases ADD CONSTRAINT releases_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'terminated', 'superseded'));
ALTER TABLE releases ADD COLUMN superseded_by TEXT;
