-- Named secrets for git remotes, APIs and webhooks. `sealed` is the secret encrypted
-- with the server's key (XChaCha20-Poly1305, nonce first); nothing here is readable
-- without that key, which is kept outside the database.
CREATE TABLE credentials (
    name         TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    sealed       BLOB NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    rotated_by   TEXT NOT NULL,
    rotated_at   TEXT NOT NULL,
    last_used_at TEXT
);

-- Webhook deliveries already acted on, by receiver and the sender's delivery id: a
-- replayed or redelivered request starts nothing twice.
CREATE TABLE webhook_deliveries (
    receiver    TEXT NOT NULL,
    delivery    TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (receiver, delivery)
);

-- Server-wide settings an admin changes at run time.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
