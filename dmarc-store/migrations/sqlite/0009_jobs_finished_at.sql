-- The PostgreSQL schema widens jobs.finished_at to 64 bits in this step. SQLite's INTEGER is
-- 64-bit already: nothing to change, the step exists to keep the two histories in step.
SELECT 1;
