//! Keeping the source pre-aggregates, in the caller's transaction: what reports add when
//! written (on SQLite summed from their rows in memory, [`Sums`]; on PostgreSQL by the
//! server), and what they take away when rewritten or purged, summed from their stored
//! records in SQL ([`add_reports`]).

use std::collections::HashMap;
use std::net::IpAddr;

use sqlx::AnyConnection;

use crate::Result;
use crate::backend::backend_of;
use crate::prepare::ReportRows;
use crate::query::{Arg, Inserter, Sql};

pub(super) const DAY: i64 = 86_400;
/// Days per block (`block = day / 32`); migration 0007 uses the same.
pub(super) const BLOCK_DAYS: i64 = 32;
/// Reports per statement.
const CHUNK: usize = 500;

/// What the records summed into one aggregated row add up to.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    records: i64,
    messages: i64,
    dmarc_pass: i64,
    dkim_pass: i64,
    spf_pass: i64,
}

impl Figures {
    fn add(&mut self, count: i64, dkim_pass: i64, spf_pass: i64) {
        self.records += 1;
        self.messages += count;
        if dkim_pass == 1 || spf_pass == 1 {
            self.dmarc_pass += count;
        }
        self.dkim_pass += dkim_pass * count;
        self.spf_pass += spf_pass * count;
    }

    fn args(self) -> [Arg; 5] {
        [
            Arg::Int(self.records),
            Arg::Int(self.messages),
            Arg::Int(self.dmarc_pass),
            Arg::Int(self.dkim_pass),
            Arg::Int(self.spf_pass),
        ]
    }
}

const DAYS_COLUMNS: &[&str] = &[
    "source_ip",
    "ip",
    "crosses",
    "l_day",
    "b_day",
    "policy_domain",
    "records",
    "messages",
    "dmarc_pass",
    "dkim_pass",
    "spf_pass",
];

const BLOCKS_COLUMNS: &[&str] = &[
    "source_ip",
    "ip",
    "block",
    "policy_domain",
    "records",
    "messages",
    "dmarc_pass",
    "dkim_pass",
    "spf_pass",
];

/// `ON CONFLICT (key) DO UPDATE` adding the figures to the row there.
fn adding(table: &str, key: &[&str]) -> String {
    let added: Vec<String> = ["records", "messages", "dmarc_pass", "dkim_pass", "spf_pass"]
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect();
    format!(
        " ON CONFLICT ({}) DO UPDATE SET {}",
        key.join(", "),
        added.join(", ")
    )
}

/// An address as stored in `source_ip` ('' without one).
fn text(ip: Option<IpAddr>) -> String {
    ip.map(|ip| ip.to_string()).unwrap_or_default()
}

/// A `source_days` key: crosses, l_day, b_day, domain, address.
type DaysKey<'a> = (i64, i64, i64, &'a str, Option<IpAddr>);
/// A `source_blocks` key: block, domain ('' for every domain), address.
type BlocksKey<'a> = (i64, &'a str, Option<IpAddr>);

/// The pre-aggregate rows of written reports, summed in memory per key: what
/// [`add_reports`] sums from their stored records, without reading them back.
#[derive(Debug, Default)]
pub(crate) struct Sums<'a> {
    days: HashMap<DaysKey<'a>, Figures>,
    blocks: HashMap<BlocksKey<'a>, Figures>,
}

impl<'a> Sums<'a> {
    /// Adds the records of a report (as written).
    pub(crate) fn add(&mut self, rows: &'a ReportRows) {
        let domain = rows.policy_domain.as_str();
        let block = BLOCK_DAYS * DAY;
        // As the SQL of `add_reports` (integer division truncating toward zero).
        let crosses = i64::from(rows.begin / block != rows.last / block);
        let (l_day, b_day, b) = (rows.last / DAY, rows.begin / DAY, rows.begin / block);
        for r in rows.records.iter() {
            let (ip, count) = (r.source_ip(), r.count());
            let (dkim, spf) = (r.dkim_pass(), r.spf_pass());
            for key in [(b, domain, ip), (b, "", ip)] {
                self.blocks.entry(key).or_default().add(count, dkim, spf);
            }
            self.days
                .entry((crosses, l_day, b_day, domain, ip))
                .or_default()
                .add(count, dkim, spf);
        }
    }

    /// Adds the sums to the aggregate tables in the caller's transaction, each row once,
    /// in the order of each table's key (one page takes its rows one after another).
    pub(crate) async fn write(&self, conn: &mut AnyConnection) -> Result<()> {
        let address = |ip: Option<IpAddr>| {
            [
                Arg::Text(text(ip)),
                Arg::Bytes(ip.map(|ip| dmarc_core::ip_key(ip).to_vec())),
            ]
        };
        let mut days: Vec<_> = self.days.iter().collect();
        days.sort_by_cached_key(|&(&(crosses, l_day, b_day, domain, ip), _)| {
            (text(ip), crosses, l_day, b_day, domain)
        });
        let rows = days
            .into_iter()
            .map(|(&(crosses, l_day, b_day, domain, ip), figures)| {
                let key = [
                    Arg::Int(crosses),
                    Arg::Int(l_day),
                    Arg::Int(b_day),
                    Arg::Text(domain.to_owned()),
                ];
                (address(ip).into_iter().chain(key).collect(), *figures)
            });
        let key = ["source_ip", "crosses", "l_day", "b_day", "policy_domain"];
        upsert_rows(conn, "source_days", DAYS_COLUMNS, &key, rows).await?;
        let mut blocks: Vec<_> = self.blocks.iter().collect();
        blocks.sort_by_cached_key(|&(&(b, domain, ip), _)| (b, domain, text(ip)));
        let rows = blocks.into_iter().map(|(&(b, domain, ip), figures)| {
            let key = [Arg::Int(b), Arg::Text(domain.to_owned())];
            (address(ip).into_iter().chain(key).collect(), *figures)
        });
        let key = ["block", "policy_domain", "source_ip"];
        upsert_rows(conn, "source_blocks", BLOCKS_COLUMNS, &key, rows).await
    }
}

/// Upserts rows (their key columns, then their figures) into `table`, adding the figures
/// to a row with the same `key`.
async fn upsert_rows(
    conn: &mut AnyConnection,
    table: &'static str,
    columns: &'static [&'static str],
    key: &[&str],
    rows: impl Iterator<Item = (Vec<Arg>, Figures)>,
) -> Result<()> {
    let mut inserter = Inserter::with_conflict(table, columns, adding(table, key));
    for (mut row, figures) in rows {
        row.extend(figures.args());
        inserter.row(conn, row).await?;
    }
    inserter.flush(conn).await
}

/// Keeps the pre-aggregates of reports whose records are written (`sign` 1) or about to
/// be deleted (`sign` -1, before their records go), in the caller's transaction, summed
/// from their stored records; rows left with no records are deleted.
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
    sql.push(&format!(") GROUP BY {}", groups.join(", ")))
        .push(&adding(table, &conflict));
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
