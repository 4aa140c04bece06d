-- Reporting periods are now checked against the time of ingestion, and a report's
-- messages are spread over its days per outcome class instead of per record (SQLite).
--
-- 1. Reports stored earlier with a period in the future (or before 1970) cannot be
--    repaired: their true dates are unknown. They leave the tables queries read, and their
--    raw inputs (kept as they are) are marked unprocessed, so the next "process reports"
--    run, or `dmarc reprocess --pending-only`, parses them again and logs why they are
--    rejected.
-- 2. Reports whose period covers more than one UTC day were spread per record; their
--    inputs are marked unprocessed too, so the same run rewrites their daily rows (same
--    report ids) exactly as new reports are written.

CREATE TEMP TABLE implausible_reports AS
SELECT id, payload_id FROM reports
WHERE begin_ts < 0 OR end_ts < 0
   OR begin_ts > CAST(strftime('%s', 'now') AS INTEGER) + 259200
   OR end_ts > CAST(strftime('%s', 'now') AS INTEGER) + 259200;

UPDATE reports SET conflict_with = NULL
WHERE conflict_with IN (SELECT id FROM implausible_reports);
UPDATE ingest_log SET report_pk = NULL
WHERE report_pk IN (SELECT id FROM implausible_reports);
DELETE FROM rollup_daily WHERE report_pk IN (SELECT id FROM implausible_reports);
DELETE FROM records WHERE report_pk IN (SELECT id FROM implausible_reports);
DELETE FROM reports WHERE id IN (SELECT id FROM implausible_reports);

UPDATE payloads SET processed_at = NULL
WHERE id IN (SELECT payload_id FROM implausible_reports)
   OR id IN (SELECT payload_id FROM reports WHERE (end_ts - 1) / 86400 > begin_ts / 86400);

DROP TABLE implausible_reports;
