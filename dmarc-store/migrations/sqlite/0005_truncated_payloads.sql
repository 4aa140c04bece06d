-- A rejected input larger than the configured size is kept as its first 64 KiB only (its
-- SHA-256 and size are those of the whole input), so garbage cannot fill the disk (SQLite).
ALTER TABLE payloads ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0;
