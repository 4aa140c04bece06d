-- Users, login sessions (refresh-token families), API keys, the audit log and settings
-- (SQLite). Timestamps are UTC seconds since the epoch; flags are 0/1 integers.

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    email               TEXT    NOT NULL UNIQUE,   -- trimmed, lower-cased
    password_hash       TEXT    NOT NULL,          -- bcrypt
    role                TEXT    NOT NULL,          -- admin | analyst | viewer
    disabled            INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    last_login_at       INTEGER
);

-- One login: the family of refresh tokens issued from it. Revoking it (logout, reuse of a
-- rotated refresh token, password change, disabling the user) ends its access tokens too.
CREATE TABLE sessions (
    id            TEXT    PRIMARY KEY,             -- random, carried in access tokens as `sid`
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    revoke_reason TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash  TEXT    PRIMARY KEY,               -- SHA-256 (hex) of the token
    session_id  TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER                            -- set when rotated: a second use is a reuse
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,                 -- the first characters, to recognise a key
    key_hash     TEXT    NOT NULL UNIQUE,          -- SHA-256 (hex) of the key
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    user_id    INTEGER,                            -- who acted (NULL: anonymous or deleted)
    actor      TEXT    NOT NULL,                   -- e-mail or "api-key NAME (EMAIL)" at the time
    action     TEXT    NOT NULL,                   -- e.g. login.failure, user.create
    target     TEXT,
    ip         TEXT,
    detail     TEXT    NOT NULL DEFAULT '{}'       -- JSON
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
