-- The durable job queue and the schedule slots it was fed by (SQLite). Times are UTC
-- milliseconds since the epoch, so retries and leases can be short in tests.

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL,                 -- email-ingestion, process-reports, ...
    payload      TEXT    NOT NULL DEFAULT '{}',    -- JSON
    state        TEXT    NOT NULL,                 -- queued | running | succeeded | failed
    attempts     INTEGER NOT NULL DEFAULT 0,       -- runs started
    max_attempts INTEGER NOT NULL,
    run_at       INTEGER NOT NULL,                 -- not taken before
    lease_until  INTEGER,                          -- while running: taken again after this
    worker       TEXT,                             -- who runs it (or ran it last)
    last_error   TEXT,
    result       TEXT,                             -- JSON, when succeeded
    schedule     TEXT,                             -- the schedule that fired it, if any
    slot         INTEGER,                          -- the schedule's slot (its fire time)
    created_by   TEXT,                             -- `scheduler`, or who triggered it
    created_at   INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER
);
-- Each slot of a schedule fires once, however many schedulers run.
CREATE UNIQUE INDEX jobs_slot ON jobs (schedule, slot);
CREATE INDEX jobs_ready ON jobs (state, run_at);
CREATE INDEX jobs_kind ON jobs (kind, id);
