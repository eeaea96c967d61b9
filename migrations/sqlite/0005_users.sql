-- People who sign in to the web UI. Passwords are argon2id hashes (PHC strings).
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'promoter', 'release-manager', 'admin')),
    created_at    TEXT NOT NULL
);
