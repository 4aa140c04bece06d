-- jobs.finished_at holds UTC milliseconds like the other times of the table; 0003 made it a
-- 32-bit INTEGER, too small for them: binding a time to it failed ("integer out of range"),
-- so no job could be claimed or finished on PostgreSQL with real clock times.
ALTER TABLE jobs ALTER COLUMN finished_at TYPE BIGINT;
