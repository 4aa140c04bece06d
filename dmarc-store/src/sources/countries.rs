//! Messages per country of the source addresses, from the source pre-aggregates joined to
//! the places of the addresses (`source_geo`).

use dmarc_core::Filter;

use super::{FIGURES, Scope, Window, push_window_rows};
use crate::Result;
use crate::query::Sql;
use crate::reads::ReadRow;
use crate::store::Store;

/// The columns a country row is read with, over `t` (`source_ip`, `ip`, `messages`,
/// `dmarc_pass`) joined to `g` (`source_geo`).
pub(crate) const COUNTRY_COLUMNS: &str = "g.country AS country, MAX(g.country_name) AS country_name, \
     CAST(SUM(t.messages) AS BIGINT) AS messages, \
     CAST(SUM(t.dmarc_pass) AS BIGINT) AS dmarc_pass, \
     COUNT(DISTINCT t.source_ip) AS sources";

/// The country rows of a filter the aggregates answer; `None` when it needs the records.
pub(crate) async fn by_country(store: &Store, filter: &Filter) -> Result<Option<Vec<ReadRow>>> {
    let Some(window) = Window::of(filter) else {
        return Ok(None);
    };
    let Some(scope) = Scope::of(store, window, filter).await? else {
        return Ok(Some(Vec::new()));
    };
    let mut sql = Sql::new(&format!("SELECT {COUNTRY_COLUMNS} FROM ("));
    push_window_rows(&mut sql, FIGURES, &scope, None);
    sql.push(
        ") t LEFT JOIN source_geo g ON g.ip = t.ip WHERE t.source_ip <> '' GROUP BY g.country",
    );
    Ok(Some(store.read(sql).await?))
}
