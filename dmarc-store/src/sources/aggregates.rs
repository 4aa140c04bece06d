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
    let block = BLOCK_DAYS * DAY;
    let crosses =
        format!("CASE WHEN r.begin_ts / {block} <> r.last_ts / {block} THEN 1 ELSE 0 END");
    let days_key = [
        ("crosses", crosses.as_str()),
        ("l_day", &format!("r.last_ts / {DAY}")),
        ("b_day", &format!("r.begin_ts / {DAY}")),
        ("policy_domain", "r.policy_domain"),
    ];
    let block_of = format!("r.begin_ts / {block}");
    // Blocks per domain, then over every domain (policy_domain '').
    let blocks_key = [
        ("block", block_of.as_str()),
        ("policy_domain", "r.policy_domain"),
    ];
    let all_key = [("block", block_of.as_str()), ("policy_domain", "''")];
    for chunk in ids.chunks(CHUNK) {
        for (table, key) in [
            ("source_days", &days_key[..]),
            ("source_blocks", &blocks_key[..]),
            ("source_blocks", &all_key[..]),
        ] {
            upsert(table, key, sign, chunk)
                .execute(backend, &mut *conn)
                .await?;
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

/// `INSERT INTO {table}` of the figures of the records of reports `ids` per address and
/// `key` (column, SQL over `records x JOIN reports r`), times `sign`, added to the rows
/// already there.
fn upsert(table: &str, key: &[(&str, &str)], sign: i64, ids: &[i64]) -> Sql {
    let columns: Vec<&str> = key.iter().map(|(column, _)| *column).collect();
    let values: Vec<&str> = key.iter().map(|(_, value)| *value).collect();
    let mut sql = Sql::new(&format!(
        "INSERT INTO {table} (source_ip, ip, {}, records, messages, dmarc_pass, dkim_pass, \
         spf_pass) SELECT COALESCE(x.source_ip, ''), x.ip, {}, {sign} * COUNT(*), \
         {sign} * SUM(x.count), \
         {sign} * SUM(CASE WHEN x.dkim_pass = 1 OR x.spf_pass = 1 THEN x.count ELSE 0 END), \
         {sign} * SUM(x.dkim_pass * x.count), {sign} * SUM(x.spf_pass * x.count) \
         FROM records x JOIN reports r ON r.id = x.report_pk WHERE x.report_pk IN (",
        columns.join(", "),
        values.join(", "),
    ));
    push_ints(&mut sql, ids);
    let groups: Vec<String> = (1..=key.len() + 2).map(|n| n.to_string()).collect();
    let mut conflict = vec!["source_ip"];
    conflict.extend(&columns);
    let added: Vec<String> = ["records", "messages", "dmarc_pass", "dkim_pass", "spf_pass"]
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect();
    sql.push(&format!(
        ") GROUP BY {} ON CONFLICT ({}) DO UPDATE SET {}",
        groups.join(", "),
        conflict.join(", "),
        added.join(", ")
    ));
    sql
}

pub(crate) fn push_ints(sql: &mut Sql, values: &[i64]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.arg(Arg::Int(*v));
    }
}
