-- Sessions opened before this moment (Unix seconds) are over: a changed password ends
-- every other session of its user.
ALTER TABLE users ADD COLUMN sessions_from INTEGER NOT NULL DEFAULT 0;
