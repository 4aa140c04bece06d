//! Keeping the source pre-aggregates: what reports add when written and take away when
//! rewritten or purged, summed from their records in SQL, in the caller's transaction.

use sqlx::AnyConnection;

use crate::Result;
use crate::backend::backend_of;
use crate::query::{Arg, Sql};

pub(super) const DAY: i64 = 86_400;
/// Days per block (`block = day / 32`); migration 0007 uses the same.
pub(super) const BLOCK_DAYS: i64 = 32;
/// Reports per statement.
const CHUNK: usize = 500;

/// Keeps the pre-aggregates of reports just written (`sign` 1) or about to be deleted
/// (`sign` -1, before their records go), in the caller's transaction; rows left with no
/// records are deleted.
pub(crate) async fn add_reports(conn: &mut AnyConnection, ids: &[i64], sign: i64) -> Result<()> {
    let backend = backend_of(conn);
    for chunk in ids.chunks(CHUNK) {
        let mut days = Sql::new(&format!(
            "INSERT INTO source_days (source_ip, ip, crosses, l_day, b_day, policy_domain, \
             records, messages, dmarc_pass, dkim_pass, spf_pass) \
             SELECT COALESCE(x.source_ip, ''), x.ip, \
             CASE WHEN r.begin_ts / {block} <> r.last_ts / {block} THEN 1 ELSE 0 END, \
             r.last_ts / {DAY}, r.begin_ts / {DAY}, r.policy_domain, {sign} * COUNT(*), \
             {sign} * SUM(x.count), \
             {sign} * SUM(CASE WHEN x.dkim_pass = 1 OR x.spf_pass = 1 THEN x.count ELSE 0 END), \
             {sign} * SUM(x.dkim_pass * x.count), {sign} * SUM(x.spf_pass * x.count) \
             FROM records x JOIN reports r ON r.id = x.report_pk WHERE x.report_pk IN (",
            block = BLOCK_DAYS * DAY,
        ));
        push_ints(&mut days, chunk);
        days.push(
            ") GROUP BY 1, 2, 3, 4, 5, 6 \
             ON CONFLICT (source_ip, crosses, l_day, b_day, policy_domain) DO UPDATE SET \
             records = source_days.records + excluded.records, \
             messages = source_days.messages + excluded.messages, \
             dmarc_pass = source_days.dmarc_pass + excluded.dmarc_pass, \
             dkim_pass = source_days.dkim_pass + excluded.dkim_pass, \
             spf_pass = source_days.spf_pass + excluded.spf_pass",
        );
        days.execute(backend, &mut *conn).await?;
        // Per domain, then over every domain (policy_domain '').
        for domain in ["r.policy_domain", "''"] {
            let mut blocks = Sql::new(&format!(
                "INSERT INTO source_blocks (source_ip, ip, block, policy_domain, records, \
                 messages, dmarc_pass, dkim_pass, spf_pass) \
                 SELECT COALESCE(x.source_ip, ''), x.ip, r.begin_ts / {block}, {domain}, \
                 {sign} * COUNT(*), {sign} * SUM(x.count), \
                 {sign} * SUM(CASE WHEN x.dkim_pass = 1 OR x.spf_pass = 1 THEN x.count ELSE 0 END), \
                 {sign} * SUM(x.dkim_pass * x.count), {sign} * SUM(x.spf_pass * x.count) \
                 FROM records x JOIN reports r ON r.id = x.report_pk WHERE x.report_pk IN (",
                block = BLOCK_DAYS * DAY,
            ));
            push_ints(&mut blocks, chunk);
            blocks.push(
                ") GROUP BY 1, 2, 3, 4 \
                 ON CONFLICT (block, policy_domain, source_ip) DO UPDATE SET \
                 records = source_blocks.records + excluded.records, \
                 messages = source_blocks.messages + excluded.messages, \
                 dmarc_pass = source_blocks.dmarc_pass + excluded.dmarc_pass, \
                 dkim_pass = source_blocks.dkim_pass + excluded.dkim_pass, \
                 spf_pass = source_blocks.spf_pass + excluded.spf_pass",
            );
            blocks.execute(backend, &mut *conn).await?;
        }
    }
    if sign < 0 {
        for table in ["source_days", "source_blocks"] {
            Sql::new(&format!("DELETE FROM {table} WHERE records = 0"))
                .execute(backend, &mut *conn)
                .await?;
        }
    }
    Ok(())
}

pub(crate) fn push_ints(sql: &mut Sql, values: &[i64]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.arg(Arg::Int(*v));
    }
}
