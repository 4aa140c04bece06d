//! Messages per country of the source addresses, from the source pre-aggregates joined to
//! the places of the addresses (`source_geo`).

use dmarc_core::Filter;

use super::{FIGURES, Scope, Window, push_window_rows};
use crate::Result;
use crate::geo::COUNTRY_COLUMNS;
use crate::query::Sql;
use crate::reads::ReadRow;
use crate::store::Store;

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
