//! SQL text with its parameters ([`Sql`], one text for both backends: `$n` placeholders,
//! rewritten to `?` for SQLite), binding them for any driver, and the common filter as SQL
//! conditions over the per-day aggregate or the records.

use std::fmt::Write as _;

use dmarc_core::{Disposition, Filter, Verdict};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Row};

use crate::Result;
use crate::backend::{Backend, backend_of};
use crate::prepare::disposition_class;

/// A bind parameter. NULLs carry their type: PostgreSQL wants it.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// SQL text with its parameters, numbered `$1`, `$2`, ... as they are added.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Self {
        Sql {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Adds the parameter of the next `$n` the text already holds. Each `$n` appears once:
    /// SQLite gets them as anonymous `?` in order.
    pub(crate) fn bind(mut self, arg: Arg) -> Self {
        self.args.push(arg);
        self
    }

    /// Appends the 16-byte keys of `ips` (`dmarc_core::ip_key`) as placeholders separated by
    /// commas, for an `IN (...)` list.
    pub(crate) fn push_ip_keys(&mut self, ips: &[std::net::IpAddr]) -> &mut Self {
        for (i, ip) in ips.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.arg(Arg::Bytes(Some(dmarc_core::ip_key(*ip).to_vec())));
        }
        self
    }

    /// Appends a placeholder for `arg`.
    pub(crate) fn arg(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        let _ = write!(self.text, "${}", self.args.len());
        self
    }

    /// The query with its parameters bound. SQLite gets anonymous `?` placeholders
    /// (parameters appear in order): binding a numbered or named parameter makes SQLite
    /// look its name up in a list, which costs quadratic time on a 7,000-parameter insert.
    pub(crate) fn query(self, backend: Backend) -> Query<'static, Any, AnyArguments> {
        let text = match backend {
            Backend::Postgres => self.text,
            Backend::Sqlite => anonymous_placeholders(&self.text),
        };
        bind_all(sqlx::query(AssertSqlSafe(text)), self.args)
    }

    pub(crate) async fn fetch_all<'e, E>(self, backend: Backend, executor: E) -> Result<Vec<AnyRow>>
    where
        E: sqlx::Executor<'e, Database = Any>,
    {
        Ok(self.query(backend).fetch_all(executor).await?)
    }

    /// Runs a statement; the number of rows it changed.
    pub(crate) async fn execute<'e, E>(self, backend: Backend, executor: E) -> Result<u64>
    where
        E: sqlx::Executor<'e, Database = Any>,
    {
        Ok(self.query(backend).execute(executor).await?.rows_affected())
    }

    /// The integer in the first column of the first row (a `COUNT(*)`), 0 without rows.
    pub(crate) async fn fetch_count<'e, E>(self, backend: Backend, executor: E) -> Result<i64>
    where
        E: sqlx::Executor<'e, Database = Any>,
    {
        match self.fetch_all(backend, executor).await?.first() {
            Some(row) => Ok(row.try_get(0)?),
            None => Ok(0),
        }
    }
}

/// `query` with `args` bound in order, for any driver (`Any`, or a native one).
pub(crate) fn bind_all<'q, DB>(
    mut query: Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    args: Vec<Arg>,
) -> Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Option<i64>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Option<String>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Option<Vec<u8>>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    for arg in args {
        query = match arg {
            Arg::Int(v) => query.bind(v),
            Arg::OptInt(v) => query.bind(v),
            Arg::Text(v) => query.bind(v),
            Arg::OptText(v) => query.bind(v),
            Arg::Bytes(v) => query.bind(v),
        };
    }
    query
}

/// `$1 ... $n` (numbered in order of appearance) to `?`.
pub(crate) fn anonymous_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// Which table a filter is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// `rollup_daily g`: report-level columns plus the outcome columns.
    Rollup,
    /// `reports r` joined with `records x`.
    Records,
}

/// True when `rollup_daily` can answer the filter: it has no source address and a
/// disposition class per row.
pub(crate) fn rollup_answers(filter: &Filter) -> bool {
    filter.source_ip.is_none() && !matches!(filter.disposition, Some(Disposition::Other(_)))
}

fn verdict_flag(verdict: Verdict) -> i64 {
    i64::from(verdict == Verdict::Pass)
}

/// Appends ` AND ...` for every condition of `filter`. Report-level columns are read from
/// `alias` (`g` or `r`), record-level ones from `g` or `x`.
pub(crate) fn push_conditions(sql: &mut Sql, filter: &Filter, target: Target) {
    let (report, record) = match target {
        Target::Rollup => ("g", "g"),
        Target::Records => ("r", "x"),
    };
    if !filter.domains.is_empty() {
        let _ = write!(sql.text, " AND {report}.policy_domain IN (");
        for (i, domain) in filter.domains.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.arg(Arg::Text(domain.trim().to_ascii_lowercase()));
        }
        sql.push(")");
    }
    if let Some(from) = filter.from {
        let _ = write!(sql.text, " AND {report}.last_ts >= ");
        sql.arg(Arg::Int(from));
    }
    if let Some(to) = filter.to {
        let _ = write!(sql.text, " AND {report}.begin_ts < ");
        sql.arg(Arg::Int(to));
    }
    if let Some(org) = &filter.org {
        let _ = write!(sql.text, " AND {report}.org_name_key = ");
        sql.arg(Arg::Text(org.trim().to_ascii_lowercase()));
    }
    if let Some(verdict) = filter.dkim {
        let _ = write!(sql.text, " AND {record}.dkim_pass = ");
        sql.arg(Arg::Int(verdict_flag(verdict)));
    }
    if let Some(verdict) = filter.spf {
        let _ = write!(sql.text, " AND {record}.spf_pass = ");
        sql.arg(Arg::Int(verdict_flag(verdict)));
    }
    if let Some(disposition) = &filter.disposition {
        let _ = write!(sql.text, " AND {record}.disposition = ");
        sql.arg(Arg::Text(match target {
            Target::Rollup => disposition_class(Some(disposition)).to_owned(),
            Target::Records => disposition.as_str().to_owned(),
        }));
    }
    if let (Some(net), Target::Records) = (filter.source_ip, target) {
        let (low, high) = net.key_range();
        sql.push(" AND x.ip BETWEEN ")
            .arg(Arg::Bytes(Some(low.to_vec())))
            .push(" AND ")
            .arg(Arg::Bytes(Some(high.to_vec())));
    }
}

pub(crate) fn has_report_conditions(filter: &Filter) -> bool {
    !filter.domains.is_empty()
        || filter.from.is_some()
        || filter.to.is_some()
        || filter.org.is_some()
}

pub(crate) fn has_record_conditions(filter: &Filter) -> bool {
    filter.source_ip.is_some()
        || filter.dkim.is_some()
        || filter.spf.is_some()
        || filter.disposition.is_some()
}

/// Rows per multi-row INSERT: one statement text (prepared once per connection) for every
/// full chunk, at most 14 x 256 = 3,584 parameters (under both backends' caps).
const INSERT_CHUNK: usize = 256;

/// Multi-row INSERTs of up to [`INSERT_CHUNK`] rows: rows are added one at a time and sent
/// a chunk at a time, so a report of any size costs one chunk of values here.
pub(crate) struct Inserter {
    table: &'static str,
    columns: &'static [&'static str],
    /// What follows the VALUES (an `ON CONFLICT` clause), or nothing.
    conflict: String,
    /// The statement for a full chunk, made once.
    full: String,
    args: Vec<Arg>,
}

impl Inserter {
    pub(crate) fn new(table: &'static str, columns: &'static [&'static str]) -> Self {
        Self::with_conflict(table, columns, String::new())
    }

    /// Inserts whose rows that exist already are handled by `conflict` (an
    /// `ON CONFLICT ... DO ...` clause).
    pub(crate) fn with_conflict(
        table: &'static str,
        columns: &'static [&'static str],
        conflict: String,
    ) -> Self {
        Inserter {
            table,
            columns,
            full: multi_insert(table, columns, INSERT_CHUNK) + &conflict,
            conflict,
            args: Vec::with_capacity(INSERT_CHUNK * columns.len()),
        }
    }

    /// Adds one row (`columns.len()` values); sends the chunk once it is full.
    pub(crate) async fn row(
        &mut self,
        conn: &mut AnyConnection,
        row: impl IntoIterator<Item = Arg>,
    ) -> Result<()> {
        self.args.extend(row);
        if self.args.len() >= INSERT_CHUNK * self.columns.len() {
            self.flush(conn).await?;
        }
        Ok(())
    }

    /// Sends the rows not sent yet.
    pub(crate) async fn flush(&mut self, conn: &mut AnyConnection) -> Result<()> {
        let rows = self.args.len() / self.columns.len();
        if rows == 0 {
            return Ok(());
        }
        let mut sql = if rows == INSERT_CHUNK {
            Sql::new(&self.full)
        } else {
            Sql::new(&(multi_insert(self.table, self.columns, rows) + &self.conflict))
        };
        sql.args = std::mem::take(&mut self.args);
        sql.query(backend_of(conn)).execute(&mut *conn).await?;
        self.args.reserve(INSERT_CHUNK * self.columns.len());
        Ok(())
    }
}

/// `INSERT INTO table (columns) VALUES (...), (...)` for `rows` rows of `width` parameters.
pub(crate) fn multi_insert(table: &str, columns: &[&str], rows: usize) -> String {
    let width = columns.len();
    let mut text = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for row in 0..rows {
        text.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..width {
            n += 1;
            let _ = write!(text, "{}${n}", if col == 0 { "" } else { ", " });
        }
        text.push(')');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let text = multi_insert("t", &["a", "b"], 2);
        assert_eq!(text, "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
        assert_eq!(
            anonymous_placeholders(&text),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
        let mut filtered = Sql::new("SELECT 1 WHERE 1 = 1");
        let filter = Filter {
            domains: vec![" Example.COM ".into()],
            source_ip: Some("192.0.2.0/24".parse().unwrap()),
            dkim: Some(Verdict::Fail),
            ..Filter::default()
        };
        push_conditions(&mut filtered, &filter, Target::Records);
        assert_eq!(
            filtered.text,
            "SELECT 1 WHERE 1 = 1 AND r.policy_domain IN ($1) AND x.dkim_pass = $2 \
             AND x.ip BETWEEN $3 AND $4"
        );
        assert!(matches!(&filtered.args[0], Arg::Text(d) if d == "example.com"));
    }
}
