-- Pre-aggregates of messages per source address (SQLite), kept in the ingest transaction,
-- so "top sources" over any whole-day period reads aggregated rows instead of grouping
-- every record. Sums over reports, exact: a report is counted under the UTC days its
-- period begins and ends on (`b_day`, `l_day` = last_ts / 86400), which decide whether a
-- filter on whole days selects it. `source_ip` is '' for records without a usable address.
-- `records` counts the records summed into a row: a row at 0 no longer exists (rows are
-- decremented when a report is rewritten or purged, and deleted at 0).

-- Per address, report period (days), domain. `crosses` is 1 when the period begins and
-- ends in different 32-day blocks (day / 32).
CREATE TABLE source_days (
    source_ip     TEXT    NOT NULL,
    ip            BLOB,                     -- 16-byte key, NULL without an address
    crosses       INTEGER NOT NULL,
    l_day         INTEGER NOT NULL,
    b_day         INTEGER NOT NULL,
    policy_domain TEXT    NOT NULL,
    records       INTEGER NOT NULL,
    messages      INTEGER NOT NULL,
    dmarc_pass    INTEGER NOT NULL,
    dkim_pass     INTEGER NOT NULL,         -- messages with aligned DKIM pass
    spf_pass      INTEGER NOT NULL,
    PRIMARY KEY (source_ip, crosses, l_day, b_day, policy_domain)
) WITHOUT ROWID;
CREATE INDEX source_days_time ON source_days (crosses, l_day, policy_domain);
CREATE INDEX source_days_empty ON source_days (source_ip) WHERE records = 0;

-- Per 32-day block of the period's first day, domain (and once more over every domain,
-- policy_domain ''), address: every report beginning in the block. A filter on whole days
-- selects every report beginning in a block it covers.
CREATE TABLE source_blocks (
    source_ip     TEXT    NOT NULL,
    ip            BLOB,
    block         INTEGER NOT NULL,
    policy_domain TEXT    NOT NULL,
    records       INTEGER NOT NULL,
    messages      INTEGER NOT NULL,
    dmarc_pass    INTEGER NOT NULL,
    dkim_pass     INTEGER NOT NULL,
    spf_pass      INTEGER NOT NULL,
    PRIMARY KEY (block, policy_domain, source_ip)
) WITHOUT ROWID;
CREATE INDEX source_blocks_rank ON source_blocks (block, policy_domain, messages DESC);
CREATE INDEX source_blocks_empty ON source_blocks (source_ip) WHERE records = 0;

INSERT INTO source_days (source_ip, ip, crosses, l_day, b_day, policy_domain, records,
                         messages, dmarc_pass, dkim_pass, spf_pass)
SELECT COALESCE(x.source_ip, ''), x.ip,
       CASE WHEN r.begin_ts / 2764800 <> r.last_ts / 2764800 THEN 1 ELSE 0 END,
       r.last_ts / 86400, r.begin_ts / 86400, r.policy_domain, COUNT(*), SUM(x.count),
       SUM(CASE WHEN x.dkim_pass = 1 OR x.spf_pass = 1 THEN x.count ELSE 0 END),
       SUM(x.dkim_pass * x.count), SUM(x.spf_pass * x.count)
FROM records x JOIN reports r ON r.id = x.report_pk
GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO source_blocks (source_ip, ip, block, policy_domain, records, messages, dmarc_pass,
                           dkim_pass, spf_pass)
SELECT source_ip, ip, b_day / 32, policy_domain, SUM(records), SUM(messages), SUM(dmarc_pass),
       SUM(dkim_pass), SUM(spf_pass)
FROM source_days
GROUP BY 1, 2, 3, 4;

INSERT INTO source_blocks (source_ip, ip, block, policy_domain, records, messages, dmarc_pass,
                           dkim_pass, spf_pass)
SELECT source_ip, ip, block, '', SUM(records), SUM(messages), SUM(dmarc_pass), SUM(dkim_pass),
       SUM(spf_pass)
FROM source_blocks
GROUP BY 1, 2, 3;
