-- Each channel's delivery of an alert: one row per alert and channel, updated at each
-- attempt (the job queue retries). Times are UTC seconds.
CREATE TABLE alert_deliveries (
    id           INTEGER PRIMARY KEY,
    alert_id     INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    channel      TEXT    NOT NULL,   -- teams | slack | discord | email
    state        TEXT    NOT NULL,   -- pending | delivered | failed
    attempts     INTEGER NOT NULL,
    status_code  INTEGER,                 -- the receiver's HTTP status, when it answered
    error        TEXT,               -- why the last attempt did not deliver
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (alert_id, channel)
);
