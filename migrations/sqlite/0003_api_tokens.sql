-- API tokens for the CLI, CI and other machines. Only a SHA-256 hash of each token is
-- kept: tokens are long random strings, so a fast hash is as safe as a slow one here.
CREATE TABLE api_tokens (
    name         TEXT PRIMARY KEY,
    hash         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'promoter', 'release-manager', 'admin')),
    created_at   TEXT NOT NULL,
    last_used_at TEXT
);
