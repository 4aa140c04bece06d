//! Reads under a time limit: every query a caller can make expensive (rollups, lists, a
//! report's records, exports) runs on a read pool whose statements stop after
//! `read_timeout` with [`StoreError::Timeout`](crate::StoreError::Timeout).
//!
//! PostgreSQL enforces `statement_timeout`, set on each read connection. SQLite has no such
//! setting, and `sqlx::Any` gives no handle to interrupt a statement, so SQLite reads use
//! native connections (read-only, on the same file) with a progress handler that aborts
//! the statement once its deadline has passed. Rows come back as plain values either way.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{AnyPool, AssertSqlSafe, Column as _};

use crate::backend::Backend;
use crate::query::{Sql, anonymous_placeholders, bind_all};
use crate::{Result, StoreError};

/// SQLite virtual-machine steps between two looks at the clock (a few milliseconds).
const PROGRESS_STEPS: i32 = 10_000;

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// A result row of plain values, read by column name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReadRow {
    /// The result's column names, shared by its rows.
    names: Arc<[String]>,
    values: Vec<Value>,
}

impl ReadRow {
    fn value(&self, name: &str) -> Result<&Value> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.values[i])
            .ok_or_else(|| StoreError::Corrupt(format!("no column {name} in a result row")))
    }

    fn mismatch(&self, name: &str, want: &str) -> StoreError {
        StoreError::Corrupt(format!(
            "column {name} is not {want}: {:?}",
            self.value(name).ok()
        ))
    }

    pub(crate) fn opt_int(&self, name: &str) -> Result<Option<i64>> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            _ => Err(self.mismatch(name, "an integer")),
        }
    }

    pub(crate) fn int(&self, name: &str) -> Result<i64> {
        self.opt_int(name)?
            .ok_or_else(|| self.mismatch(name, "an integer"))
    }

    pub(crate) fn opt_text(&self, name: &str) -> Result<Option<String>> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v.clone())),
            _ => Err(self.mismatch(name, "text")),
        }
    }

    pub(crate) fn text(&self, name: &str) -> Result<String> {
        self.opt_text(name)?
            .ok_or_else(|| self.mismatch(name, "text"))
    }

    pub(crate) fn bytes(&self, name: &str) -> Result<&[u8]> {
        match self.value(name)? {
            Value::Bytes(v) => Ok(v),
            _ => Err(self.mismatch(name, "bytes")),
        }
    }

    /// A stored source address: `None` for NULL or '' (a record without one).
    pub(crate) fn source_ip(&self, name: &str) -> Result<Option<std::net::IpAddr>> {
        match self.opt_text(name)? {
            Some(text) if !text.is_empty() => text.parse().map(Some).map_err(|_| {
                StoreError::Corrupt(format!("stored source_ip {text:?} is not an address"))
            }),
            _ => Ok(None),
        }
    }

    /// The integer of a one-column result (a `COUNT(*)`).
    fn only_int(&self) -> Result<i64> {
        match self.values.as_slice() {
            [Value::Int(v)] => Ok(*v),
            other => Err(StoreError::Corrupt(format!(
                "a count is one integer, not {other:?}"
            ))),
        }
    }
}

/// Decodes column `i` of a row of any driver: an integer, text, bytes or NULL.
fn value<R: sqlx::Row>(row: &R, i: usize) -> Result<Value>
where
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return Ok(v.map_or(Value::Null, Value::Int));
    }
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return Ok(v.map_or(Value::Null, Value::Text));
    }
    Ok(row
        .try_get::<Option<Vec<u8>>, _>(i)?
        .map_or(Value::Null, Value::Bytes))
}

/// The rows of a result, with its column names taken once.
fn read_rows<R: sqlx::Row>(rows: &[R]) -> Result<Vec<ReadRow>>
where
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let names: Arc<[String]> = first
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    rows.iter()
        .map(|row| {
            Ok(ReadRow {
                names: Arc::clone(&names),
                values: (0..row.len())
                    .map(|i| value(row, i))
                    .collect::<Result<_>>()?,
            })
        })
        .collect()
}

/// The pool reads run on.
#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(AnyPool),
}

/// Reads with a time limit per statement.
#[derive(Debug, Clone)]
pub(crate) struct Reads {
    pool: Pool,
    timeout: Duration,
}

impl Reads {
    /// A read pool on the database at `url` (already created and migrated).
    pub(crate) async fn connect(url: &str, backend: Backend, timeout: Duration) -> Result<Reads> {
        let pool = match backend {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)?
                    .read_only(true)
                    .create_if_missing(false)
                    .busy_timeout(Duration::from_secs(30))
                    .pragma("cache_size", "-8192");
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(Duration::from_secs(60))
                        .connect_with(options)
                        .await?,
                )
            }
            Backend::Postgres => {
                let millis = timeout.as_millis().max(1);
                Pool::Postgres(
                    AnyPoolOptions::new()
                        .max_connections(8)
                        .acquire_timeout(Duration::from_secs(60))
                        .after_connect(move |conn, _| {
                            Box::pin(async move {
                                let set = format!("SET statement_timeout = {millis}");
                                sqlx::raw_sql(AssertSqlSafe(set)).execute(conn).await?;
                                Ok(())
                            })
                        })
                        .connect(url)
                        .await?,
                )
            }
        };
        Ok(Reads { pool, timeout })
    }

    /// Runs a query; [`StoreError::Timeout`] when it ran longer than the limit.
    pub(crate) async fn fetch(&self, sql: Sql) -> Result<Vec<ReadRow>> {
        match &self.pool {
            Pool::Postgres(pool) => {
                let rows = sql
                    .query(Backend::Postgres)
                    .fetch_all(pool)
                    .await
                    .map_err(StoreError::from)?;
                read_rows(&rows)
            }
            Pool::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                let deadline = Instant::now() + self.timeout;
                conn.lock_handle()
                    .await?
                    .set_progress_handler(PROGRESS_STEPS, move || Instant::now() < deadline);
                let text = AssertSqlSafe(anonymous_placeholders(&sql.text));
                let rows = bind_all(sqlx::query(text), sql.args)
                    .fetch_all(&mut *conn)
                    .await;
                conn.lock_handle().await?.remove_progress_handler();
                read_rows(&rows.map_err(StoreError::from)?)
            }
        }
    }

    /// The integer in the first column of the first row (a `COUNT(*)`), 0 without rows.
    pub(crate) async fn count(&self, sql: Sql) -> Result<i64> {
        match self.fetch(sql).await?.first() {
            Some(row) => row.only_int(),
            None => Ok(0),
        }
    }
}
