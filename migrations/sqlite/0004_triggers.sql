-- What the trigger environment of each product flow looked like when last polled: a
-- fingerprint of its application folders. A release starts when it changes.
CREATE TABLE trigger_state (
    product     TEXT NOT NULL,
    flow        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    checked_at  TEXT NOT NULL,
    PRIMARY KEY (product, flow)
);
