-- The version a release promotes, kept beside its snapshot so that lists of releases
-- need not read the snapshot (megabytes for thousands of applications). '' when the
-- release has no version; NULL for releases made before this column, whose version is
-- read from their snapshot.
ALTER TABLE releases ADD COLUMN version TEXT;
