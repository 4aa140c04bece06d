//! "Messages per source address" from the source pre-aggregates (`source_days` and
//! `source_blocks`, migration 0007), kept in the ingest transaction (`aggregates.rs`).
//!
//! A filter on whole UTC days selects a report by the days its period begins and ends on
//! (`last_ts >= from` is `l_day >= from_day` when `from` is midnight), so sums over rows
//! keyed by those days are exact. Every report beginning in a 32-day block the period
//! covers is selected, so those blocks are read from `source_blocks`; the reports beginning
//! before or after them from `source_days` ([`Window::parts`]). The top of the ranking is
//! found without grouping every address: the threshold algorithm walks, for each block
//! the selected reports begin in, the rows with the most messages, computes the exact
//! figures of the addresses seen, and stops once the last wanted address has more
//! messages than any address not seen yet could have.

use std::collections::{HashMap, HashSet};

use dmarc_core::Filter;
use dmarc_core::rollup::{self, SourceGroup, Tally};

use crate::query::{Arg, Sql, has_record_conditions};
use crate::reads::ReadRow;
use crate::store::{Store, unsigned};
use crate::types::{Page, Paged};
use crate::{Result, StoreError};

mod aggregates;
mod countries;

use aggregates::{BLOCK_DAYS, DAY};
pub(crate) use aggregates::{Sums, add_reports, push_ints};
pub(crate) use countries::{by_country, in_country, networks_seen};

/// Addresses a sources page counts exactly; beyond, `total` says "at least" this many.
const TOTAL_CAP: u64 = 10_000;
/// Deeper pages than this are ranked by grouping every address of the period.
const WALK_LIMIT: u64 = 2_000;
/// Rows read per block in the last round of the walk before grouping everything instead.
const WALK_ROWS: i64 = 200_000;
/// Blocks (lists) the walk reads at most: about 100 years of reports.
const MAX_LISTS: i64 = 1_200;
/// Blocks listed per statement of the walk.
const LISTS_PER_QUERY: usize = 200;
/// Addresses per `IN (...)` list.
const CHUNK: usize = 500;

fn push_texts<'a>(sql: &mut Sql, values: impl IntoIterator<Item = &'a String>) {
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.arg(Arg::Text(v.clone()));
    }
}

/// A period of whole UTC days, `[from, to)` in days since 1970 (`None`: open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    from: Option<i64>,
    to: Option<i64>,
}

/// Which aggregated rows hold a window's reports, exactly once each.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts {
    /// Blocks wholly inside the window, `[first, end)`: `source_blocks` sums every report
    /// beginning in them, and the window selects every such report. `None`: no such block.
    blocks: Option<(Option<i64>, Option<i64>)>,
    /// The `source_days` rows of the selected reports beginning outside those blocks.
    days: Vec<Days>,
}

/// `source_days` rows: `crosses = crosses AND l_day >= l_from AND l_day < l_to AND
/// b_day >= b_from AND b_day < b_to` (`None`: no bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Days {
    crosses: i64,
    l_from: Option<i64>,
    l_to: Option<i64>,
    b_from: Option<i64>,
    b_to: Option<i64>,
}

impl Window {
    /// The window of a filter the aggregates answer: its period is whole UTC days and it
    /// has no condition on record columns or on the reporting organisation.
    pub(crate) fn of(filter: &Filter) -> Option<Window> {
        // ('' names the rows over every domain.)
        if has_record_conditions(filter)
            || filter.org.is_some()
            || filter.domains.iter().any(|d| d.trim().is_empty())
        {
            return None;
        }
        let day = |t: Option<i64>| match t {
            Some(t) if t.rem_euclid(DAY) != 0 => Err(()),
            Some(t) => Ok(Some(t.div_euclid(DAY))),
            None => Ok(None),
        };
        Some(Window {
            from: day(filter.from).ok()?,
            to: day(filter.to).ok()?,
        })
    }

    /// Appends the conditions selecting the window's reports (from `reports`).
    fn push_reports(self, sql: &mut Sql) {
        if let Some(from) = self.from {
            sql.push(" AND last_ts >= ")
                .arg(Arg::Int(from.saturating_mul(DAY)));
        }
        if let Some(to) = self.to {
            sql.push(" AND begin_ts < ")
                .arg(Arg::Int(to.saturating_mul(DAY)));
        }
    }

    fn parts(self) -> Parts {
        let (from, to) = (self.from, self.to);
        // Blocks wholly inside: the first whose first day is >= from, up to the block
        // `to` falls in.
        let first =
            from.map(|f| f.div_euclid(BLOCK_DAYS) + i64::from(f.rem_euclid(BLOCK_DAYS) != 0));
        let end = to.map(|t| t.div_euclid(BLOCK_DAYS));
        // A report within one block beginning before `to` ends before the end of the
        // block of `to`'s last day.
        let last_end = to.map(|t| ((t - 1).div_euclid(BLOCK_DAYS) + 1) * BLOCK_DAYS);
        let start = |block: Option<i64>| block.map(|b| b * BLOCK_DAYS);
        let covered = match (first, end) {
            (Some(a), Some(b)) => a < b,
            _ => true,
        };
        if !covered {
            return Parts {
                blocks: None,
                days: vec![
                    Days {
                        crosses: 0,
                        l_from: from,
                        l_to: last_end,
                        b_to: to,
                        b_from: None,
                    },
                    Days {
                        crosses: 1,
                        l_from: from,
                        b_to: to,
                        ..Days::default()
                    },
                ],
            };
        }
        let mut days = Vec::new();
        if from.is_some() {
            // Beginning before the first covered block.
            days.push(Days {
                crosses: 0,
                l_from: from,
                l_to: start(first),
                ..Days::default()
            });
            days.push(Days {
                crosses: 1,
                l_from: from,
                b_to: start(first),
                ..Days::default()
            });
        }
        if to.is_some() {
            // Beginning after the last covered block, before `to`.
            days.push(Days {
                crosses: 0,
                l_from: start(end),
                l_to: last_end,
                b_to: to,
                b_from: None,
            });
            days.push(Days {
                crosses: 1,
                l_from: start(end),
                b_from: start(end),
                b_to: to,
                l_to: None,
            });
        }
        // Empty ranges: none.
        let empty = |low: Option<i64>, high: Option<i64>| matches!((low, high), (Some(a), Some(b)) if a >= b);
        days.retain(|d| !empty(d.l_from, d.l_to) && !empty(d.b_from, d.b_to));
        Parts {
            blocks: Some((first, end)),
            days,
        }
    }
}

/// Appends ` AND policy_domain IN (...)` when the filter names domains; else, for
/// `source_blocks`, selects its rows over every domain (policy_domain '').
fn push_domains(sql: &mut Sql, domains: &[String], table: &str) {
    if !domains.is_empty() {
        sql.push(" AND policy_domain IN (");
        push_texts(sql, domains);
        sql.push(")");
    } else if table == "source_blocks" {
        sql.push(" AND policy_domain = ''");
    }
}

/// What a sources query reads: the window, the domains, and what the reports it selects
/// say about where their rows are.
#[derive(Debug)]
struct Scope {
    window: Window,
    /// The filter's domains as stored (trimmed, lower-cased), without repeats.
    domains: Vec<String>,
    /// When the filter names no domain: the domains of the selected reports, named in the
    /// `source_days` statements so that each domain's days are one range of
    /// `source_days_time` (empty: not named, when there are more than [`LISTED_DOMAINS`]
    /// or the window reads no `source_days`).
    window_domains: Vec<String>,
    /// The blocks the selected reports begin in, first to last.
    blocks: (i64, i64),
    /// Over how many domains one address's listed rows can be spread: 1 for the rows over
    /// every domain, else the selected reports' domains.
    spread: u64,
}

impl Scope {
    /// The scope of a window; `None` when it selects no report.
    async fn of(store: &Store, window: Window, filter: &Filter) -> Result<Option<Scope>> {
        let mut domains: Vec<String> = filter
            .domains
            .iter()
            .map(|d| d.trim().to_ascii_lowercase())
            .collect();
        domains.sort();
        domains.dedup();
        // Over how many domains is only asked when the filter names some.
        let mut span = Sql::new(if domains.is_empty() {
            "SELECT MIN(begin_ts) AS lo, MAX(begin_ts) AS hi FROM reports WHERE 1 = 1"
        } else {
            "SELECT MIN(begin_ts) AS lo, MAX(begin_ts) AS hi, \
             COUNT(DISTINCT policy_domain) AS domains FROM reports WHERE 1 = 1"
        });
        window.push_reports(&mut span);
        push_domains(&mut span, &domains, "reports");
        let rows = store.read(span).await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("no span row".into()))?;
        let (Some(lo), Some(hi)) = (row.opt_int("lo")?, row.opt_int("hi")?) else {
            return Ok(None);
        };
        let block = |t: i64| t.div_euclid(BLOCK_DAYS * DAY);
        let spread = if domains.is_empty() {
            1
        } else {
            unsigned(row.int("domains")?).max(1)
        };
        let window_domains = if !domains.is_empty() || window.parts().days.is_empty() {
            Vec::new()
        } else {
            window_domains(store, window).await?
        };
        Ok(Some(Scope {
            window,
            domains,
            window_domains,
            blocks: (block(lo), block(hi)),
            spread,
        }))
    }

    /// Appends ` AND policy_domain ...` for `table` (see [`push_domains`]; `source_days`
    /// rows also by [`Scope::window_domains`] when the filter names none).
    fn push_domains(&self, sql: &mut Sql, table: &str) {
        if table == "source_days" && self.domains.is_empty() {
            push_domains(sql, &self.window_domains, table);
        } else {
            push_domains(sql, &self.domains, table);
        }
    }
}

/// Domains listed in a statement at most (beyond, `source_days` is read without naming
/// them).
const LISTED_DOMAINS: usize = 200;

/// The domains of the reports a window selects, or none when there are more than
/// [`LISTED_DOMAINS`].
async fn window_domains(store: &Store, window: Window) -> Result<Vec<String>> {
    let mut sql = Sql::new("SELECT DISTINCT policy_domain FROM reports WHERE 1 = 1");
    window.push_reports(&mut sql);
    sql.push(" LIMIT ").arg(Arg::Int(
        i64::try_from(LISTED_DOMAINS).unwrap_or(i64::MAX) + 1,
    ));
    let domains = store
        .read(sql)
        .await?
        .iter()
        .map(|row| row.text("policy_domain"))
        .collect::<Result<Vec<String>>>()?;
    Ok(if domains.len() > LISTED_DOMAINS {
        Vec::new()
    } else {
        domains
    })
}

/// The columns of the window's rows that figures are summed from.
const FIGURES: &str = "source_ip, ip, messages, dmarc_pass, dkim_pass, spf_pass";

/// Appends `SELECT {columns}` of every aggregated row of the window (for `addresses` only,
/// when given), as a UNION ALL.
fn push_window_rows(sql: &mut Sql, columns: &str, scope: &Scope, addresses: Option<&[String]>) {
    let window = scope.window;
    let parts = window.parts();
    let mut selects = 0;
    let mut start = |sql: &mut Sql, table: &str| {
        if selects > 0 {
            sql.push(" UNION ALL ");
        }
        selects += 1;
        sql.push(&format!("SELECT {columns} FROM {table} WHERE 1 = 1"));
        match addresses {
            Some(addresses) => {
                sql.push(" AND source_ip IN (");
                push_texts(sql, addresses);
                sql.push(")");
                // Looked up by address (the key of both tables), not by the time index:
                // `|| ''` keeps a planner without statistics from ranging over the
                // domain's days instead (measured: 4.4 s instead of 50 ms on 10M records).
                if table == "source_days" && !scope.domains.is_empty() {
                    sql.push(" AND policy_domain || '' IN (");
                    push_texts(sql, &scope.domains);
                    sql.push(")");
                } else {
                    push_domains(sql, &scope.domains, table);
                }
            }
            None => scope.push_domains(sql, table),
        }
    };
    if let Some((first, end)) = parts.blocks {
        // The covered blocks reports begin in, each named: one index seek per block and
        // domain.
        let low = first.map_or(scope.blocks.0, |f| f.max(scope.blocks.0));
        let high = end.map_or(scope.blocks.1, |e| (e - 1).min(scope.blocks.1));
        if low <= high {
            start(sql, "source_blocks");
            if high - low < LISTS_PER_QUERY as i64 {
                sql.push(" AND block IN (");
                push_ints(sql, &(low..=high).collect::<Vec<_>>());
                sql.push(")");
            } else {
                sql.push(" AND block >= ")
                    .arg(Arg::Int(low))
                    .push(" AND block <= ")
                    .arg(Arg::Int(high));
            }
        }
    }
    for d in parts.days {
        start(sql, "source_days");
        sql.push(" AND crosses = ").arg(Arg::Int(d.crosses));
        for (condition, value) in [
            (" AND l_day >= ", d.l_from),
            (" AND l_day < ", d.l_to),
            (" AND b_day >= ", d.b_from),
            (" AND b_day < ", d.b_to),
        ] {
            if let Some(value) = value {
                sql.push(condition).arg(Arg::Int(value));
            }
        }
    }
}

pub(super) fn ranked_from(row: &ReadRow) -> Result<SourceGroup> {
    let source_ip = row.source_ip("source_ip")?;
    let messages = unsigned(row.int("messages")?);
    let dmarc_pass = unsigned(row.int("dmarc_pass")?);
    Ok(SourceGroup {
        source_ip,
        tally: Tally {
            messages,
            dmarc_pass,
            dmarc_fail: messages.saturating_sub(dmarc_pass),
            dkim_aligned_pass: unsigned(row.int("dkim_pass")?),
            spf_aligned_pass: unsigned(row.int("spf_pass")?),
        },
    })
}

/// The window's figures per address (for `addresses` only, when given).
fn grouped(scope: &Scope, addresses: Option<&[String]>) -> Sql {
    let mut sql = Sql::new(
        "SELECT source_ip, CAST(SUM(messages) AS BIGINT) AS messages, \
         CAST(SUM(dmarc_pass) AS BIGINT) AS dmarc_pass, \
         CAST(SUM(dkim_pass) AS BIGINT) AS dkim_pass, \
         CAST(SUM(spf_pass) AS BIGINT) AS spf_pass FROM (",
    );
    push_window_rows(&mut sql, FIGURES, scope, addresses);
    sql.push(") t GROUP BY source_ip, ip");
    sql
}

/// Messages per source address over a window, most first, paginated; `None` when the
/// filter needs the records.
pub(crate) async fn by_source(
    store: &Store,
    filter: &Filter,
    page: Page,
) -> Result<Option<Paged<SourceGroup>>> {
    let Some(window) = Window::of(filter) else {
        return Ok(None);
    };
    let (limit, offset) = page.clamped();
    let mut paged = Paged::of(Vec::new(), 0, page);
    let Some(scope) = Scope::of(store, window, filter).await? else {
        return Ok(Some(paged));
    };
    let need = unsigned(limit.saturating_add(offset));
    let walked = if need <= WALK_LIMIT {
        walk(store, &scope, need).await?
    } else {
        None
    };
    let items = match walked {
        Some(Walk { ranked, exhausted }) => {
            if exhausted {
                paged.total = ranked.len() as u64;
            } else {
                (paged.total, paged.total_capped) = count(store, &scope).await?;
            }
            ranked
                .into_iter()
                .skip(usize::try_from(offset).unwrap_or(usize::MAX))
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .collect()
        }
        None => {
            (paged.total, paged.total_capped) = count(store, &scope).await?;
            scan(store, &scope, limit, offset).await?
        }
    };
    paged.items = items;
    Ok(Some(paged))
}

/// What the threshold walk found: the first addresses in order, or every one.
struct Walk {
    ranked: Vec<SourceGroup>,
    /// Every address of the window is in `ranked`.
    exhausted: bool,
}

/// The first `need` addresses by the threshold algorithm; `None` when the lists grow past
/// [`WALK_ROWS`] (grouping everything is then cheaper).
async fn walk(store: &Store, scope: &Scope, need: u64) -> Result<Option<Walk>> {
    if scope.blocks.1 - scope.blocks.0 >= MAX_LISTS {
        return Ok(None);
    }
    let need = usize::try_from(need).unwrap_or(usize::MAX);
    let mut depth = i64::try_from(need.saturating_mul(4))
        .unwrap_or(i64::MAX)
        .max(64);
    let mut seen: HashSet<String> = HashSet::new();
    let mut ranked: Vec<SourceGroup> = Vec::new();
    loop {
        // The `depth` largest bounds of each block, a statement per [`LISTS_PER_QUERY`]
        // blocks (SQLite takes at most 500 terms in a compound SELECT).
        let mut last: HashMap<i64, (i64, u64)> = HashMap::new();
        let mut new = Vec::new();
        let blocks: Vec<i64> = (scope.blocks.0..=scope.blocks.1).collect();
        for chunk in blocks.chunks(LISTS_PER_QUERY) {
            let mut lists = Sql::new("");
            for (i, b) in chunk.iter().enumerate() {
                if i > 0 {
                    lists.push(" UNION ALL ");
                }
                lists
                    .push(
                        "SELECT * FROM (SELECT source_ip, block, messages FROM source_blocks \
                         WHERE block = ",
                    )
                    .arg(Arg::Int(*b));
                scope.push_domains(&mut lists, "source_blocks");
                lists
                    .push(" ORDER BY messages DESC LIMIT ")
                    .arg(Arg::Int(depth))
                    .push(&format!(") l{i}"));
            }
            // Per block: rows listed, smallest bound listed.
            for row in store.read(lists).await? {
                let (b, bound) = (row.int("block")?, unsigned(row.int("messages")?));
                let entry = last.entry(b).or_insert((0, u64::MAX));
                entry.0 += 1;
                entry.1 = entry.1.min(bound);
                let address = row.text("source_ip")?;
                if seen.insert(address.clone()) {
                    new.push(address);
                }
            }
        }
        for chunk in new.chunks(CHUNK) {
            for row in store.read(grouped(scope, Some(chunk))).await? {
                ranked.push(ranked_from(&row)?);
            }
        }
        rollup::rank_sources(&mut ranked);
        // No address not seen yet has more than this in the window.
        let threshold = last
            .values()
            .filter(|&&(rows, _)| rows == depth)
            .fold(0u64, |sum, &(_, bound)| {
                sum.saturating_add(bound.saturating_mul(scope.spread))
            });
        if last.values().all(|&(rows, _)| rows < depth) {
            return Ok(Some(Walk {
                ranked,
                exhausted: true,
            }));
        }
        if ranked.len() >= need && ranked[need - 1].tally.messages > threshold {
            ranked.truncate(need);
            return Ok(Some(Walk {
                ranked,
                exhausted: false,
            }));
        }
        if depth >= WALK_ROWS {
            return Ok(None);
        }
        depth = depth.saturating_mul(4);
    }
}

/// A page of every address of the window, grouped and ordered in the database.
async fn scan(store: &Store, scope: &Scope, limit: i64, offset: i64) -> Result<Vec<SourceGroup>> {
    let mut sql = grouped(scope, None);
    sql.push(
        " ORDER BY 2 DESC, CASE WHEN source_ip = '' THEN 0 \
         WHEN source_ip LIKE '%:%' THEN 2 ELSE 1 END, ip LIMIT ",
    )
    .arg(Arg::Int(limit))
    .push(" OFFSET ")
    .arg(Arg::Int(offset));
    let rows = store.read(sql).await?;
    rows.iter().map(ranked_from).collect()
}

/// The number of addresses in the window, counted up to [`TOTAL_CAP`]: `(total, capped)`.
/// The addresses of the window's first rows are counted (a plain UNION ALL under a LIMIT
/// stops early on both backends, a DISTINCT over the whole window does not on
/// PostgreSQL), more rows each time until [`TOTAL_CAP`] addresses are found or the rows
/// run out.
async fn count(store: &Store, scope: &Scope) -> Result<(u64, bool)> {
    let mut rows = i64::try_from(TOTAL_CAP)
        .unwrap_or(i64::MAX)
        .saturating_mul(4);
    loop {
        let mut sql = Sql::new(
            "SELECT COUNT(*) AS listed, COUNT(DISTINCT source_ip) AS addresses FROM (\
             SELECT source_ip FROM (",
        );
        // Only the address: the indexes hold it, no row is read.
        push_window_rows(&mut sql, "source_ip", scope, None);
        sql.push(") w LIMIT ").arg(Arg::Int(rows)).push(") t");
        let read = store.read(sql).await?;
        let row = read
            .first()
            .ok_or_else(|| StoreError::Corrupt("no count row".into()))?;
        let addresses = unsigned(row.int("addresses")?);
        if addresses > TOTAL_CAP {
            return Ok((TOTAL_CAP, true));
        }
        if row.int("listed")? < rows {
            return Ok((addresses, false));
        }
        rows = rows.saturating_mul(4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(from: Option<i64>, to: Option<i64>) -> Window {
        Window { from, to }
    }

    #[test]
    fn a_window_is_read_from_whole_blocks_and_edge_days() {
        let days = |crosses, l_from, l_to, b_from, b_to| Days {
            crosses,
            l_from,
            l_to,
            b_from,
            b_to,
        };
        // Days 40..100: block 2 (days 64..96) inside; reports beginning before day 64 or
        // from day 96 (before day 100) from their days.
        assert_eq!(
            window(Some(40), Some(100)).parts(),
            Parts {
                blocks: Some((Some(2), Some(3))),
                days: vec![
                    days(0, Some(40), Some(64), None, None),
                    days(1, Some(40), None, None, Some(64)),
                    days(0, Some(96), Some(128), None, Some(100)),
                    days(1, Some(96), None, Some(96), Some(100)),
                ],
            }
        );
        // Aligned on blocks: only reports across the edges.
        assert_eq!(
            window(Some(64), Some(128)).parts(),
            Parts {
                blocks: Some((Some(2), Some(4))),
                days: vec![days(1, Some(64), None, None, Some(64))],
            }
        );
        // Within one block: days only.
        assert_eq!(
            window(Some(70), Some(80)).parts(),
            Parts {
                blocks: None,
                days: vec![
                    days(0, Some(70), Some(96), None, Some(80)),
                    days(1, Some(70), None, None, Some(80)),
                ],
            }
        );
        // All time: blocks only.
        assert_eq!(
            window(None, None).parts(),
            Parts {
                blocks: Some((None, None)),
                days: vec![],
            }
        );
        assert_eq!(
            window(Some(70), None).parts(),
            Parts {
                blocks: Some((Some(3), None)),
                days: vec![
                    days(0, Some(70), Some(96), None, None),
                    days(1, Some(70), None, None, Some(96)),
                ],
            }
        );
    }

    #[test]
    fn only_whole_day_filters_without_record_conditions_use_the_aggregates() {
        let day = Filter {
            from: Some(10 * DAY),
            to: Some(12 * DAY),
            domains: vec!["a.example".into()],
            ..Filter::default()
        };
        assert_eq!(Window::of(&day), Some(window(Some(10), Some(12))));
        let sub_day = Filter {
            from: Some(10 * DAY + 1),
            ..Filter::default()
        };
        assert_eq!(Window::of(&sub_day), None);
        let by_org = Filter {
            org: Some("google.com".into()),
            ..Filter::default()
        };
        assert_eq!(Window::of(&by_org), None);
        let by_dkim = Filter {
            dkim: Some(dmarc_core::Verdict::Pass),
            ..Filter::default()
        };
        assert_eq!(Window::of(&by_dkim), None);
    }
}
