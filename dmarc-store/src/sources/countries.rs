//! Per country of the source addresses: messages for the map, and the addresses of one
//! country, from the source pre-aggregates (or the records, for a filter they cannot
//! answer) joined to the places of the addresses (`source_geo`).

use dmarc_core::Filter;
use dmarc_core::rollup::SourceGroup;

use super::{FIGURES, Scope, Window, push_window_rows, ranked_from};
use crate::Result;
use crate::query::{Arg, Sql, Target, push_conditions};
use crate::reads::ReadRow;
use crate::store::{Store, unsigned};
use crate::types::{Page, Paged};

/// The columns a country row is read with, over `t` (`source_ip`, `ip`, `messages`,
/// `dmarc_pass`) joined to `g` (`source_geo`).
const COUNTRY_COLUMNS: &str = "g.country AS country, MAX(g.country_name) AS country_name, \
     CAST(SUM(t.messages) AS BIGINT) AS messages, \
     CAST(SUM(t.dmarc_pass) AS BIGINT) AS dmarc_pass, \
     COUNT(DISTINCT t.source_ip) AS sources";

/// The columns of an address row (as `ranked_from` reads them).
const ADDRESS_COLUMNS: &str = "t.source_ip AS source_ip, \
     CAST(SUM(t.messages) AS BIGINT) AS messages, \
     CAST(SUM(t.dmarc_pass) AS BIGINT) AS dmarc_pass, \
     CAST(SUM(t.dkim_pass) AS BIGINT) AS dkim_pass, \
     CAST(SUM(t.spf_pass) AS BIGINT) AS spf_pass";

/// ` FROM (the filter's rows) t LEFT JOIN source_geo g ... WHERE` an address is known, to
/// be completed by the caller and selected from with [`select`]; `t` has [`FIGURES`]. The
/// rows are the aggregates' when they answer the filter, else the records'. `None`: no
/// report matches.
async fn placed(store: &Store, filter: &Filter) -> Result<Option<Sql>> {
    let mut sql = Sql::new(" FROM (");
    match Window::of(filter) {
        Some(window) => {
            let Some(scope) = Scope::of(store, window, filter).await? else {
                return Ok(None);
            };
            push_window_rows(&mut sql, FIGURES, &scope, None);
        }
        None => {
            sql.push(
                "SELECT x.source_ip AS source_ip, x.ip AS ip, x.count AS messages, \
                 CASE WHEN x.dkim_pass = 1 OR x.spf_pass = 1 THEN x.count ELSE 0 END \
                 AS dmarc_pass, x.dkim_pass * x.count AS dkim_pass, \
                 x.spf_pass * x.count AS spf_pass \
                 FROM records x JOIN reports r ON r.id = x.report_pk \
                 WHERE x.source_ip IS NOT NULL",
            );
            push_conditions(&mut sql, filter, Target::Records);
        }
    }
    sql.push(") t LEFT JOIN source_geo g ON g.ip = t.ip WHERE t.source_ip <> ''");
    Ok(Some(sql))
}

/// `SELECT {columns}` over `from` (as [`placed`] gives it, its parameters kept).
fn select(columns: &str, from: &Sql) -> Sql {
    Sql {
        text: format!("SELECT {columns}{}", from.text),
        args: from.args.clone(),
    }
}

/// The country rows of a filter (see [`COUNTRY_COLUMNS`]).
pub(crate) async fn by_country(store: &Store, filter: &Filter) -> Result<Vec<ReadRow>> {
    let Some(from) = placed(store, filter).await? else {
        return Ok(Vec::new());
    };
    let mut sql = select(COUNTRY_COLUMNS, &from);
    sql.push(" GROUP BY g.country");
    store.read(sql).await
}

/// A page of the addresses placed in `country` (ISO 3166-1 alpha-2, upper case), most
/// messages first.
pub(crate) async fn in_country(
    store: &Store,
    filter: &Filter,
    country: &str,
    page: Page,
) -> Result<Paged<SourceGroup>> {
    let (limit, offset) = page.clamped();
    let mut paged = Paged::of(Vec::new(), 0, page);
    let Some(mut from) = placed(store, filter).await? else {
        return Ok(paged);
    };
    from.push(" AND g.country = ")
        .arg(Arg::Text(country.to_owned()));
    paged.total = unsigned(
        store
            .read_count(select("COUNT(DISTINCT t.source_ip) AS n", &from))
            .await?,
    );
    let mut sql = select(ADDRESS_COLUMNS, &from);
    // Ties in the core's order: IPv4 before IPv6, then by address.
    sql.push(
        " GROUP BY t.source_ip, t.ip ORDER BY messages DESC, \
         CASE WHEN t.source_ip LIKE '%:%' THEN 2 ELSE 1 END, t.ip LIMIT ",
    )
    .arg(Arg::Int(limit))
    .push(" OFFSET ")
    .arg(Arg::Int(offset));
    paged.items = store
        .read(sql)
        .await?
        .iter()
        .map(ranked_from)
        .collect::<Result<_>>()?;
    Ok(paged)
}

/// Of the networks `asns`, those some address placed in them sent from under `filter`.
pub(crate) async fn networks_seen(
    store: &Store,
    filter: &Filter,
    asns: &[u32],
) -> Result<std::collections::HashSet<u32>> {
    let mut seen = std::collections::HashSet::new();
    if asns.is_empty() {
        return Ok(seen);
    }
    let Some(from) = placed(store, filter).await? else {
        return Ok(seen);
    };
    let mut sql = select("DISTINCT g.asn AS asn", &from);
    sql.push(" AND g.asn IN (");
    for (i, asn) in asns.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.arg(Arg::Int(i64::from(*asn)));
    }
    sql.push(")");
    for row in store.read(sql).await? {
        if let Ok(asn) = u32::try_from(row.int("asn")?) {
            seen.insert(asn);
        }
    }
    Ok(seen)
}
