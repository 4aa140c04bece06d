-- Reports, records, raw payloads, ingest outcomes and the daily rollup (SQLite).
-- Every integer is a 64-bit INTEGER; timestamps are UTC seconds since the epoch.

-- Every input as received, gzip-compressed, accepted or rejected alike.
CREATE TABLE payloads (
    id           INTEGER PRIMARY KEY,
    sha256       TEXT    NOT NULL UNIQUE,   -- of the bytes as received
    name         TEXT    NOT NULL,          -- file name, upload name or message id
    size         INTEGER NOT NULL,          -- bytes as received
    content      BLOB    NOT NULL,          -- gzip of the bytes as received
    received_at  INTEGER NOT NULL,
    processed_at INTEGER                    -- NULL: stored, not parsed yet
);
CREATE INDEX payloads_pending ON payloads (processed_at) WHERE processed_at IS NULL;

CREATE TABLE reports (
    id               INTEGER PRIMARY KEY,
    payload_id       INTEGER NOT NULL REFERENCES payloads (id),
    part             TEXT,                  -- where in the payload, e.g. "attachment 'x.zip' > entry 'x.xml'"
    reporter         TEXT    NOT NULL,      -- duplicate key (dmarc-format.md 3.6)
    report_id        TEXT    NOT NULL,      --   normalised report_id
    policy_domain    TEXT    NOT NULL,      --   trimmed, lower-cased
    begin_ts         INTEGER NOT NULL,
    end_ts           INTEGER NOT NULL,
    last_ts          INTEGER NOT NULL,      -- max(begin_ts, end_ts): the period filter's column
    organization     TEXT    NOT NULL,      -- grouping key: trimmed org_name, else reporter
    org_name_key     TEXT    NOT NULL,      -- filter key: trimmed, lower-cased org_name
    policy_p         TEXT    NOT NULL,      -- effective p
    dialect          TEXT    NOT NULL,
    xml_sha256       TEXT    NOT NULL UNIQUE,
    record_count     INTEGER NOT NULL,
    message_count    INTEGER NOT NULL,
    dmarc_pass       INTEGER NOT NULL,      -- messages that passed DMARC
    diagnostic_count INTEGER NOT NULL,
    conflict_with    INTEGER REFERENCES reports (id), -- same identity, other period
    meta             TEXT    NOT NULL,      -- JSON: the report without its records
    ingested_at      INTEGER NOT NULL,
    UNIQUE (reporter, report_id, policy_domain, begin_ts, end_ts)
);
CREATE INDEX reports_last ON reports (last_ts);
CREATE INDEX reports_begin ON reports (begin_ts, id);
CREATE INDEX reports_domain ON reports (policy_domain, last_ts);
CREATE INDEX reports_payload ON reports (payload_id);

CREATE TABLE records (
    report_pk     INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    ord           INTEGER NOT NULL,         -- position in the report
    ip            BLOB,                     -- 16-byte key (IPv4 mapped into IPv6) for CIDR ranges
    source_ip     TEXT,                     -- the address as parsed
    count         INTEGER NOT NULL,
    disposition   TEXT,
    dkim          TEXT,
    spf           TEXT,
    dkim_pass     INTEGER NOT NULL,         -- 1 when the aligned DKIM verdict is pass
    spf_pass      INTEGER NOT NULL,
    header_from   TEXT,
    envelope_from TEXT,
    envelope_to   TEXT,
    detail        TEXT    NOT NULL,         -- JSON: reasons, auth_results, extensions
    PRIMARY KEY (report_pk, ord)
) WITHOUT ROWID;                            -- a report's records are one range of the key
CREATE INDEX records_ip ON records (ip);

-- Messages per report, UTC day and outcome, written with the report. Dashboards read this
-- instead of scanning records. A report's messages are spread over the days its period
-- overlaps (largest remainder per record, as dmarc_core::rollup::timeline does).
CREATE TABLE rollup_daily (
    report_pk     INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    day           INTEGER NOT NULL,         -- days since 1970-01-01
    policy_domain TEXT    NOT NULL,
    organization  TEXT    NOT NULL,
    org_name_key  TEXT    NOT NULL,
    begin_ts      INTEGER NOT NULL,
    last_ts       INTEGER NOT NULL,
    end_ts        INTEGER NOT NULL,
    policy_p      TEXT    NOT NULL,         -- none | quarantine | reject
    disposition   TEXT    NOT NULL,         -- none | quarantine | reject | pass | other
    dkim_pass     INTEGER NOT NULL,
    spf_pass      INTEGER NOT NULL,
    messages      INTEGER NOT NULL,
    PRIMARY KEY (report_pk, day, disposition, dkim_pass, spf_pass)
);
CREATE INDEX rollup_last ON rollup_daily (last_ts);
CREATE INDEX rollup_domain ON rollup_daily (policy_domain, last_ts);

-- One row per payload part per ingestion: accepted, duplicate or rejected.
CREATE TABLE ingest_log (
    id          INTEGER PRIMARY KEY,
    payload_id  INTEGER NOT NULL REFERENCES payloads (id),
    part        TEXT,
    status      TEXT    NOT NULL,
    report_pk   INTEGER REFERENCES reports (id),
    error_kind  TEXT,
    message     TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX ingest_log_payload ON ingest_log (payload_id);
CREATE INDEX ingest_log_created ON ingest_log (created_at);
