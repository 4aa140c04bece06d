-- Anomaly detection (SQLite): trained models, one of them active, and the predictions of
-- each detection run. Times are UTC seconds; scores are in millionths (0 to 1,000,000).

CREATE TABLE ml_models (
    id           INTEGER PRIMARY KEY,
    version      INTEGER NOT NULL UNIQUE,   -- 1, 2, ... in training order
    params       TEXT    NOT NULL,          -- JSON: trees, sample_size, seed, threshold
    window_from  INTEGER NOT NULL,          -- the training window, [from, to)
    window_to    INTEGER NOT NULL,
    domain       TEXT,                      -- trained on one domain's sources; NULL: all
    sources      INTEGER NOT NULL,          -- training rows
    stats        TEXT    NOT NULL,          -- JSON: per feature, median and spread
    metrics      TEXT    NOT NULL,          -- JSON: training time, score quantiles, ...
    forest       BLOB    NOT NULL,          -- the forest in dmarc-ml's versioned format
    active       INTEGER NOT NULL,          -- 1 for the deployed model
    created_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    deployed_at  INTEGER
);
CREATE UNIQUE INDEX ml_models_one_active ON ml_models (active) WHERE active = 1;

CREATE TABLE anomaly_predictions (
    id           INTEGER PRIMARY KEY,
    model_id     INTEGER NOT NULL REFERENCES ml_models (id) ON DELETE CASCADE,
    run_at       INTEGER NOT NULL,          -- when the detection ran
    window_from  INTEGER NOT NULL,          -- the activity scored, [from, to)
    window_to    INTEGER NOT NULL,
    domain       TEXT,                      -- the sources of one domain; NULL: all
    source_ip    TEXT    NOT NULL,
    ip           BLOB    NOT NULL,
    score_e6     INTEGER NOT NULL,
    anomalous    INTEGER NOT NULL,
    reasons      TEXT    NOT NULL,          -- JSON array of sentences
    features     TEXT    NOT NULL,          -- JSON array, in dmarc-ml's FEATURES order
    messages     INTEGER NOT NULL,
    dmarc_fail   INTEGER NOT NULL
);
CREATE INDEX anomaly_predictions_recent ON anomaly_predictions (run_at, score_e6);
CREATE INDEX anomaly_predictions_ip ON anomaly_predictions (ip, run_at);
