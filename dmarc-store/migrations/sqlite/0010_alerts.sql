-- Alerting (SQLite): rules, the alerts they raised (one per fingerprint while open, with
-- their lifecycle), and suppression windows. Times are UTC seconds since the epoch.

CREATE TABLE alert_rules (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE,
    kind                 TEXT    NOT NULL,   -- failure_rate | volume_spike | new_source | missing_reports | policy_change
    domain               TEXT,               -- lower-case policy domain; NULL: every domain
    severity             TEXT    NOT NULL,   -- info | warning | critical
    params               TEXT    NOT NULL,   -- JSON, by kind
    cooldown_minutes     INTEGER NOT NULL,
    auto_resolve_minutes INTEGER NOT NULL,   -- resolved when the condition has cleared this long
    channels             TEXT    NOT NULL,   -- JSON array: teams, slack, discord, email
    enabled              INTEGER NOT NULL,
    created_by           TEXT    NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

CREATE TABLE alert_suppressions (
    id          INTEGER PRIMARY KEY,
    rule_id     INTEGER,                     -- NULL with the others NULL too: everything
    domain      TEXT,
    fingerprint TEXT,
    starts_at   INTEGER NOT NULL,
    ends_at     INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX alert_suppressions_ends ON alert_suppressions (ends_at);

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    rule_id         INTEGER REFERENCES alert_rules (id) ON DELETE SET NULL,
    rule_name       TEXT    NOT NULL,        -- kept when the rule is deleted
    fingerprint     TEXT    NOT NULL,        -- SHA-256 of the rule and the subject
    subject         TEXT    NOT NULL,        -- what it is about: a domain, a domain and an address
    domain          TEXT,
    severity        TEXT    NOT NULL,
    state           TEXT    NOT NULL,        -- created | acknowledged | resolved | suppressed
    summary         TEXT    NOT NULL,        -- one sentence for people
    detail          TEXT    NOT NULL,        -- JSON: the figures that raised it
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,        -- the last evaluation that found the condition
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    resolved_at     INTEGER,
    resolved_by     TEXT,                    -- who, or `auto` when the condition cleared
    suppression_id  INTEGER                  -- the window that suppressed it
);
CREATE INDEX alerts_fingerprint ON alerts (fingerprint, created_at);
CREATE INDEX alerts_created ON alerts (created_at);
CREATE INDEX alerts_open ON alerts (state) WHERE state IN ('created', 'acknowledged');
