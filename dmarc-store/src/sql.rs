//! The one SQL implementation of [`Store`], for SQLite and PostgreSQL through `sqlx::Any`.
//!
//! Rules that keep one text valid on both: `$n` placeholders, every integer a 64-bit
//! integer (decoded as `i64`), sums wrapped in `CAST(... AS BIGINT)` (PostgreSQL sums
//! bigints into numerics), no booleans (0/1 integers), timestamps as epoch seconds.

use std::fmt::Write as _;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dmarc_core::rollup::{
    AlignmentBreakdown, DayBucket, DispositionBreakdown, Group, PolicyCompliance, SourceActivity,
    SourceGroup, Summary,
};
use dmarc_core::{
    Disposition, Error as ParseError, ErrorKind, Filter, ParseOptions, Report, Verdict, ip_key,
};
use serde::Serialize;
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, AssertSqlSafe, Row, Transaction};

use crate::prepare::{Prepared, RecordColumns, ReportRows, disposition_class, record_from_columns};
use crate::reads::{ReadRow, Reads};
use crate::types::{
    DomainInfo, Outcome, OutcomeStatus, Page, Paged, RecordExport, ReportRef, ReportSummary,
    ReprocessSummary, StoredReport, Totals,
};
use crate::{Result, Store, StoreError, rollups};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Attempts of a batch that hit a deadlock or a busy database.
const TRANSIENT_RETRIES: u32 = 6;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// SQLite: one file, one node.
    Sqlite,
    /// PostgreSQL: several processes on one server.
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn of_url(url: &str) -> Result<Backend> {
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        match scheme {
            // An in-memory database is private to one connection; the store uses several.
            "sqlite" if url.contains(":memory:") || url.contains("mode=memory") => {
                Err(StoreError::UnsupportedUrl(redact(url)))
            }
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(StoreError::UnsupportedUrl(redact(url))),
        }
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let userinfo = &url[start + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..start + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Opens the database a URL names (`sqlite://PATH`, created if missing, or
/// `postgres://...`) and applies pending migrations.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(SqlStore::connect(url).await?))
}

/// The store over a connection pool, for either backend.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    /// Where write transactions run: on SQLite one connection (SQLite serialises writers
    /// anyway), on PostgreSQL the pool.
    writes: AnyPool,
    backend: Backend,
    /// Where reads a caller can make expensive run, under a time limit.
    reads: Reads,
}

/// Records of a write transaction after which SQLite's write connection gives its page
/// cache back.
const SHRINK_AFTER_RECORDS: u64 = 50_000;

/// How long a read may run before it is stopped, unless told otherwise.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A SQLite store: WAL journal, `synchronous=NORMAL`, foreign keys on, writers wait up to
/// 30 s for the lock.
#[derive(Debug, Clone)]
pub struct SqliteStore(SqlStore);

/// A PostgreSQL store: several processes may share one database.
#[derive(Debug, Clone)]
pub struct PgStore(SqlStore);

impl SqliteStore {
    /// Opens (creating if missing) a SQLite database, e.g. `sqlite://dmarc.db`.
    pub async fn open(url: &str) -> Result<Self> {
        match Backend::of_url(url)? {
            Backend::Sqlite => Ok(SqliteStore(SqlStore::connect(url).await?)),
            Backend::Postgres => Err(StoreError::UnsupportedUrl(redact(url))),
        }
    }

    /// The store as a trait object.
    pub fn into_dyn(self) -> Arc<dyn Store> {
        Arc::new(self.0)
    }
}

impl PgStore {
    /// Connects to a PostgreSQL database, e.g. `postgres://user:pass@host/db`.
    pub async fn connect(url: &str) -> Result<Self> {
        match Backend::of_url(url)? {
            Backend::Postgres => Ok(PgStore(SqlStore::connect(url).await?)),
            Backend::Sqlite => Err(StoreError::UnsupportedUrl(redact(url))),
        }
    }

    /// The store as a trait object.
    pub fn into_dyn(self) -> Arc<dyn Store> {
        Arc::new(self.0)
    }
}

impl Deref for SqliteStore {
    type Target = SqlStore;
    fn deref(&self) -> &SqlStore {
        &self.0
    }
}

impl Deref for PgStore {
    type Target = SqlStore;
    fn deref(&self) -> &SqlStore {
        &self.0
    }
}

impl SqlStore {
    /// Connects and migrates; reads stop after [`DEFAULT_READ_TIMEOUT`].
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, DEFAULT_READ_TIMEOUT).await
    }

    /// Connects and migrates; reads a caller can make expensive (rollups, lists, records,
    /// exports) stop with [`StoreError::Timeout`] after `read_timeout`.
    pub async fn connect_with(url: &str, read_timeout: Duration) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let (pool, writes) = match backend {
            Backend::Sqlite => {
                let url = if url.contains("mode=") {
                    url.to_owned()
                } else if url.contains('?') {
                    format!("{url}&mode=rwc")
                } else {
                    format!("{url}?mode=rwc")
                };
                // Write transactions are serialised by SQLite anyway, so they share one
                // connection with a page cache that holds a large batch (64 MiB; measured:
                // 16 MiB made a 270,000-record report take 2.4 times as long to write).
                // Other statements use small caches: the caches are part of the memory
                // bound of the process (64 + 4 x 4 MiB here, and the read pool's).
                let writes = sqlite_pool(&url, 1, 65_536).await?;
                (sqlite_pool(&url, 4, 4_096).await?, writes)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .acquire_timeout(Duration::from_secs(60))
                    .max_connections(8)
                    .connect(url)
                    .await?;
                (pool.clone(), pool)
            }
        };
        migrate(&pool, backend).await?;
        let reads = Reads::connect(url, backend, read_timeout).await?;
        Ok(SqlStore {
            pool,
            writes,
            backend,
            reads,
        })
    }

    /// The connection pool, for tables other crates add (users, jobs, ...).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        Sql::new("SELECT 1")
            .fetch_count(self.backend, &self.pool)
            .await?;
        Ok(())
    }

    /// Which database this is.
    pub fn backend_kind(&self) -> Backend {
        self.backend
    }

    async fn migrate_now(&self) -> Result<()> {
        migrate(&self.pool, self.backend).await
    }

    /// Runs a read a caller can make expensive, under the time limit.
    pub(crate) async fn read(&self, sql: Sql) -> Result<Vec<ReadRow>> {
        self.reads.fetch(sql).await
    }

    /// A `COUNT(*)` read under the time limit.
    pub(crate) async fn read_count(&self, sql: Sql) -> Result<i64> {
        self.reads.count(sql).await
    }

    /// Starts a write transaction. SQLite takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so two writers queue on the busy timeout instead of failing on a lock upgrade.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.writes.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writes.begin().await?,
        })
    }

    /// Runs `op` again when it failed on a deadlock or a busy database.
    async fn retrying<T, F, Fut>(&self, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Err(e) if e.is_transient() && attempt + 1 < TRANSIENT_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
                }
                other => return other,
            }
        }
    }
}

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

/// A pool of `connections` to a SQLite file, each with a page cache of `cache_kib` KiB:
/// WAL journal, `synchronous=NORMAL`, foreign keys, a 30 s busy timeout, and statement
/// journals in memory (a temporary file write saved per page touched: -20 % ingest time).
async fn sqlite_pool(url: &str, connections: u32, cache_kib: u32) -> Result<AnyPool> {
    let pragmas = format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 30000; PRAGMA cache_size = -{cache_kib}; \
         PRAGMA temp_store = MEMORY;"
    );
    Ok(AnyPoolOptions::new()
        .acquire_timeout(Duration::from_secs(60))
        .max_connections(connections)
        .after_connect(move |conn, _| {
            let pragmas = pragmas.clone();
            Box::pin(async move {
                sqlx::raw_sql(AssertSqlSafe(pragmas)).execute(conn).await?;
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

/// Applies pending migrations.
async fn migrate(pool: &AnyPool, backend: Backend) -> Result<()> {
    // PostgreSQL serialises concurrent migrators with an advisory lock; SQLite has no such
    // lock, so a second process starting at the same moment may fail on a table the first
    // just created. Once the first has committed, a retry finds nothing to do.
    let mut attempt = 0;
    loop {
        match backend.migrator().run(pool).await {
            Ok(()) => return Ok(()),
            Err(_) if backend == Backend::Sqlite && attempt < 5 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Which backend a connection talks to.
fn backend_of(conn: &AnyConnection) -> Backend {
    if conn.backend_name() == "SQLite" {
        Backend::Sqlite
    } else {
        Backend::Postgres
    }
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

fn has_record_conditions(filter: &Filter) -> bool {
    filter.source_ip.is_some()
        || filter.dkim.is_some()
        || filter.spf.is_some()
        || filter.disposition.is_some()
}

pub(crate) fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// How `write_report` treats a report that is already stored from the same XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnSameXml {
    /// Report it as a duplicate.
    Keep,
    /// Rewrite it from the new parse (reprocessing after a parser change).
    Rewrite,
}

/// What `write_report` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    Accepted { id: i64, conflict_with: Option<i64> },
    Duplicate { id: i64 },
    Rewritten { id: i64 },
}

/// One row of `ingest_log`, written at the end of the batch.
#[derive(Debug)]
struct LogRow {
    payload_id: i64,
    part: Option<String>,
    status: OutcomeStatus,
    report_pk: Option<i64>,
    error: Option<ParseError>,
}

const REPORT_COLUMNS: &str = "payload_id, part, reporter, report_id, policy_domain, begin_ts, \
    end_ts, last_ts, organization, org_name_key, policy_p, dialect, xml_sha256, record_count, \
    message_count, dmarc_pass, diagnostic_count, conflict_with, meta, ingested_at";

fn report_args(
    rows: &ReportRows,
    payload_id: i64,
    part: Option<&str>,
    conflict_with: Option<i64>,
    at: i64,
) -> Vec<Arg> {
    vec![
        Arg::Int(payload_id),
        Arg::OptText(part.map(str::to_owned)),
        Arg::Text(rows.reporter.clone()),
        Arg::Text(rows.report_id.clone()),
        Arg::Text(rows.policy_domain.clone()),
        Arg::Int(rows.begin),
        Arg::Int(rows.end),
        Arg::Int(rows.last),
        Arg::Text(rows.organization.clone()),
        Arg::Text(rows.org_name_key.clone()),
        Arg::Text(rows.policy_p.to_owned()),
        Arg::Text(rows.report.dialect.as_str().to_owned()),
        Arg::Text(rows.report.xml_sha256.clone()),
        Arg::Int(i64::try_from(rows.records.len()).unwrap_or(i64::MAX)),
        Arg::Int(rows.messages),
        Arg::Int(rows.dmarc_pass),
        Arg::Int(i64::try_from(rows.report.diagnostics.len()).unwrap_or(i64::MAX)),
        Arg::OptInt(conflict_with),
        Arg::Text(rows.meta.clone()),
        Arg::Int(at),
    ]
}

/// Rows per multi-row INSERT: one statement text (prepared once per connection) for every
/// full chunk, at most 14 x 256 = 3,584 parameters (under both backends' caps).
const INSERT_CHUNK: usize = 256;

/// `INSERT INTO table (columns) VALUES (...), (...)` for `rows` rows of `width` parameters.
fn multi_insert(table: &str, columns: &[&str], rows: usize) -> String {
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

/// Multi-row INSERTs of up to [`INSERT_CHUNK`] rows: rows are added one at a time and sent
/// a chunk at a time, so a report of any size costs one chunk of values here.
struct Inserter {
    table: &'static str,
    columns: &'static [&'static str],
    /// The statement for a full chunk, made once.
    full: String,
    args: Vec<Arg>,
}

impl Inserter {
    fn new(table: &'static str, columns: &'static [&'static str]) -> Self {
        Inserter {
            table,
            columns,
            full: multi_insert(table, columns, INSERT_CHUNK),
            args: Vec::with_capacity(INSERT_CHUNK * columns.len()),
        }
    }

    /// Adds one row (`columns.len()` values); sends the chunk once it is full.
    async fn row<const N: usize>(&mut self, conn: &mut AnyConnection, row: [Arg; N]) -> Result<()> {
        self.args.extend(row);
        if self.args.len() >= INSERT_CHUNK * self.columns.len() {
            self.flush(conn).await?;
        }
        Ok(())
    }

    /// Sends the rows not sent yet.
    async fn flush(&mut self, conn: &mut AnyConnection) -> Result<()> {
        let rows = self.args.len() / self.columns.len();
        if rows == 0 {
            return Ok(());
        }
        let mut sql = if rows == INSERT_CHUNK {
            Sql::new(&self.full)
        } else {
            Sql::new(&multi_insert(self.table, self.columns, rows))
        };
        sql.args = std::mem::take(&mut self.args);
        sql.query(backend_of(conn)).execute(&mut *conn).await?;
        self.args.reserve(INSERT_CHUNK * self.columns.len());
        Ok(())
    }
}

const RECORD_COLUMNS: &[&str] = &[
    "report_pk",
    "ord",
    "ip",
    "source_ip",
    "count",
    "disposition",
    "dkim",
    "spf",
    "dkim_pass",
    "spf_pass",
    "header_from",
    "envelope_from",
    "envelope_to",
    "detail",
];

const ROLLUP_COLUMNS: &[&str] = &[
    "report_pk",
    "day",
    "policy_domain",
    "organization",
    "org_name_key",
    "begin_ts",
    "last_ts",
    "end_ts",
    "policy_p",
    "disposition",
    "dkim_pass",
    "spf_pass",
    "messages",
];

const LOG_COLUMNS: &[&str] = &[
    "payload_id",
    "part",
    "status",
    "report_pk",
    "error_kind",
    "message",
    "created_at",
];

/// Writes the records and rollup rows of stored reports (`(id, rows)` pairs).
async fn insert_children(conn: &mut AnyConnection, written: &[(i64, &ReportRows)]) -> Result<()> {
    let mut records = Inserter::new("records", RECORD_COLUMNS);
    for &(id, rows) in written {
        for (ord, r) in rows.records.iter().enumerate() {
            let c = r.columns();
            let row = [
                Arg::Int(id),
                Arg::Int(i64::try_from(ord).unwrap_or(i64::MAX)),
                Arg::Bytes(r.source_ip().map(|ip| ip_key(ip).to_vec())),
                Arg::OptText(c.source_ip),
                Arg::Int(c.count),
                Arg::OptText(c.disposition),
                Arg::OptText(c.dkim),
                Arg::OptText(c.spf),
                Arg::Int(r.dkim_pass()),
                Arg::Int(r.spf_pass()),
                Arg::OptText(c.header_from),
                Arg::OptText(c.envelope_from),
                Arg::OptText(c.envelope_to),
                Arg::Text(c.detail),
            ];
            records.row(conn, row).await?;
        }
    }
    records.flush(conn).await?;
    let mut rollups = Inserter::new("rollup_daily", ROLLUP_COLUMNS);
    for &(id, rows) in written {
        for g in &rows.rollups {
            let row = [
                Arg::Int(id),
                Arg::Int(g.key.day),
                Arg::Text(rows.policy_domain.clone()),
                Arg::Text(rows.organization.clone()),
                Arg::Text(rows.org_name_key.clone()),
                Arg::Int(rows.begin),
                Arg::Int(rows.last),
                Arg::Int(rows.end),
                Arg::Text(rows.policy_p.to_owned()),
                Arg::Text(g.key.disposition.to_owned()),
                Arg::Int(g.key.dkim_pass),
                Arg::Int(g.key.spf_pass),
                Arg::Int(g.messages),
            ];
            rollups.row(conn, row).await?;
        }
    }
    rollups.flush(conn).await
}

/// Stores a report unless it is a duplicate (dmarc-format.md §3.6).
/// The records and rollup rows of accepted or rewritten reports go to `children`, written
/// together by `insert_children` before the transaction commits.
async fn write_report<'a>(
    conn: &mut AnyConnection,
    payload_id: i64,
    part: Option<&str>,
    rows: &'a ReportRows,
    on_same_xml: OnSameXml,
    at: i64,
    children: &mut Vec<(i64, &'a ReportRows)>,
) -> Result<Written> {
    let mut lookup =
        Sql::new("SELECT id, begin_ts, end_ts, xml_sha256 FROM reports WHERE (reporter = ");
    lookup
        .arg(Arg::Text(rows.reporter.clone()))
        .push(" AND report_id = ")
        .arg(Arg::Text(rows.report_id.clone()))
        .push(" AND policy_domain = ")
        .arg(Arg::Text(rows.policy_domain.clone()))
        .push(") OR xml_sha256 = ")
        .arg(Arg::Text(rows.report.xml_sha256.clone()))
        .push(" ORDER BY id");
    let mut conflict_with = None;
    for row in lookup.fetch_all(backend_of(conn), &mut *conn).await? {
        let id: i64 = row.try_get(0)?;
        let (begin, end): (i64, i64) = (row.try_get(1)?, row.try_get(2)?);
        let sha: String = row.try_get(3)?;
        if sha == rows.report.xml_sha256 {
            if on_same_xml == OnSameXml::Rewrite {
                rewrite_report(conn, id, payload_id, part, rows).await?;
                // The same XML twice in one payload: the last parse wins, written once.
                children.retain(|&(written, _)| written != id);
                children.push((id, rows));
                return Ok(Written::Rewritten { id });
            }
            return Ok(Written::Duplicate { id });
        }
        if (begin, end) == (rows.begin, rows.end) {
            return Ok(Written::Duplicate { id });
        }
        conflict_with.get_or_insert(id);
    }
    let mut insert = Sql::new(&format!("INSERT INTO reports ({REPORT_COLUMNS}) VALUES ("));
    for (i, arg) in report_args(rows, payload_id, part, conflict_with, at)
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            insert.push(", ");
        }
        insert.arg(arg);
    }
    insert.push(") ON CONFLICT DO NOTHING RETURNING id");
    match insert
        .fetch_all(backend_of(conn), &mut *conn)
        .await?
        .first()
    {
        Some(row) => {
            let id: i64 = row.try_get(0)?;
            children.push((id, rows));
            Ok(Written::Accepted { id, conflict_with })
        }
        // Another writer stored it between the lookup and the insert.
        None => {
            let mut again = Sql::new("SELECT id FROM reports WHERE xml_sha256 = ");
            again
                .arg(Arg::Text(rows.report.xml_sha256.clone()))
                .push(" OR (reporter = ")
                .arg(Arg::Text(rows.reporter.clone()))
                .push(" AND report_id = ")
                .arg(Arg::Text(rows.report_id.clone()))
                .push(" AND policy_domain = ")
                .arg(Arg::Text(rows.policy_domain.clone()))
                .push(" AND begin_ts = ")
                .arg(Arg::Int(rows.begin))
                .push(" AND end_ts = ")
                .arg(Arg::Int(rows.end))
                .push(") ORDER BY id");
            let found = again.fetch_all(backend_of(conn), &mut *conn).await?;
            let row = found.first().ok_or_else(|| {
                StoreError::Corrupt("insert conflicted with no stored report".into())
            })?;
            Ok(Written::Duplicate {
                id: row.try_get(0)?,
            })
        }
    }
}

/// Replaces a stored report's columns with a new parse of the same XML (same id) and
/// deletes its records and rollup rows (the caller writes the new ones).
async fn rewrite_report(
    conn: &mut AnyConnection,
    id: i64,
    payload_id: i64,
    part: Option<&str>,
    rows: &ReportRows,
) -> Result<()> {
    for table in ["records", "rollup_daily"] {
        let mut delete = Sql::new(&format!("DELETE FROM {table} WHERE report_pk = "));
        delete.arg(Arg::Int(id));
        delete.query(backend_of(conn)).execute(&mut *conn).await?;
    }
    let mut update = Sql::new("UPDATE reports SET ");
    let args = report_args(rows, payload_id, part, None, 0);
    let columns: Vec<&str> = REPORT_COLUMNS.split(',').map(str::trim).collect();
    let mut first = true;
    for (column, arg) in columns.iter().zip(args) {
        // Keep the conflict flag and the first ingestion time.
        if matches!(*column, "conflict_with" | "ingested_at") {
            continue;
        }
        if !first {
            update.push(", ");
        }
        first = false;
        update.push(column).push(" = ").arg(arg);
    }
    update.push(" WHERE id = ").arg(Arg::Int(id));
    update.query(backend_of(conn)).execute(&mut *conn).await?;
    Ok(())
}

/// A raw input as stored.
struct PayloadRow<'a> {
    name: &'a str,
    sha256: &'a str,
    size: u64,
    /// Gzip of the bytes, or of their first 64 KiB when `truncated`.
    compressed: &'a [u8],
    truncated: bool,
}

/// Stores a raw input (or finds it by its SHA-256) and returns its id. `processed` marks it
/// parsed; a pending copy stays pending until a parsed one arrives, and a truncated copy is
/// replaced by a whole one.
async fn upsert_payload(
    conn: &mut AnyConnection,
    payload: &PayloadRow<'_>,
    processed: bool,
    at: i64,
) -> Result<i64> {
    let mut sql = Sql::new(
        "INSERT INTO payloads (sha256, name, size, content, truncated, received_at, \
         processed_at) VALUES (",
    );
    sql.arg(Arg::Text(payload.sha256.to_owned()))
        .push(", ")
        .arg(Arg::Text(payload.name.to_owned()))
        .push(", ")
        .arg(Arg::Int(i64::try_from(payload.size).unwrap_or(i64::MAX)))
        .push(", ")
        .arg(Arg::Bytes(Some(payload.compressed.to_vec())))
        .push(", ")
        .arg(Arg::Int(i64::from(payload.truncated)))
        .push(", ")
        .arg(Arg::Int(at))
        .push(", ")
        .arg(Arg::OptInt(processed.then_some(at)))
        .push(
            ") ON CONFLICT (sha256) DO UPDATE SET processed_at = \
             COALESCE(payloads.processed_at, excluded.processed_at), \
             content = CASE WHEN excluded.truncated < payloads.truncated \
             THEN excluded.content ELSE payloads.content END, \
             truncated = CASE WHEN excluded.truncated < payloads.truncated \
             THEN excluded.truncated ELSE payloads.truncated END RETURNING id",
        );
    let rows = sql.fetch_all(backend_of(conn), &mut *conn).await?;
    let row = rows
        .first()
        .ok_or_else(|| StoreError::Corrupt("payload upsert returned no id".into()))?;
    Ok(row.try_get(0)?)
}

async fn write_log(conn: &mut AnyConnection, log: Vec<LogRow>, at: i64) -> Result<()> {
    let mut inserter = Inserter::new("ingest_log", LOG_COLUMNS);
    for row in log {
        let (kind, message) = match row.error {
            Some(e) => (Some(e.kind.as_str().to_owned()), Some(e.message)),
            None => (None, None),
        };
        let row = [
            Arg::Int(row.payload_id),
            Arg::OptText(row.part),
            Arg::Text(row.status.as_str().to_owned()),
            Arg::OptInt(row.report_pk),
            Arg::OptText(kind),
            Arg::OptText(message),
            Arg::Int(at),
        ];
        inserter.row(conn, row).await?;
    }
    inserter.flush(conn).await
}

fn report_ref(id: i64, rows: &ReportRows) -> ReportRef {
    ReportRef {
        id,
        reporter: rows.reporter.clone(),
        report_id: rows.report_id.clone(),
        domain: rows.policy_domain.clone(),
    }
}

impl SqlStore {
    async fn ingest_once(&self, batch: &[Prepared]) -> Result<Vec<Vec<Outcome>>> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let mut log = Vec::new();
        // Inputs in SHA-256 order, so concurrent writers take row locks in one order.
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by(|&a, &b| batch[a].sha256.cmp(&batch[b].sha256));
        let mut outcomes: Vec<Vec<Outcome>> = vec![Vec::new(); batch.len()];
        let mut children = Vec::new();
        for index in order {
            let input = &batch[index];
            let payload = PayloadRow {
                name: &input.name,
                sha256: &input.sha256,
                size: input.size,
                compressed: &input.compressed,
                truncated: input.truncated,
            };
            let payload_id = upsert_payload(&mut tx, &payload, true, at).await?;
            for part in &input.parts {
                let outcome = match &part.result {
                    Ok(rows) => {
                        let written = write_report(
                            &mut tx,
                            payload_id,
                            part.part.as_deref(),
                            rows,
                            OnSameXml::Keep,
                            at,
                            &mut children,
                        )
                        .await?;
                        let (status, id, conflict_with) = match written {
                            Written::Accepted { id, conflict_with } => {
                                (OutcomeStatus::Accepted, id, conflict_with)
                            }
                            Written::Duplicate { id } | Written::Rewritten { id } => {
                                (OutcomeStatus::Duplicate, id, None)
                            }
                        };
                        Outcome {
                            input: input.name.clone(),
                            part: part.part.clone(),
                            outcome: status,
                            report: Some(report_ref(id, rows)),
                            conflict_with,
                            records: rows.record_count(),
                            messages: unsigned(rows.messages),
                            error: None,
                        }
                    }
                    Err(error) => Outcome {
                        input: input.name.clone(),
                        part: part.part.clone(),
                        outcome: OutcomeStatus::Rejected,
                        report: None,
                        conflict_with: None,
                        records: 0,
                        messages: 0,
                        error: Some(error.clone()),
                    },
                };
                log.push(LogRow {
                    payload_id,
                    part: outcome.part.clone(),
                    status: outcome.outcome,
                    report_pk: outcome.report.as_ref().map(|r| r.id),
                    error: outcome.error.clone(),
                });
                outcomes[index].push(outcome);
            }
        }
        insert_children(&mut tx, &children).await?;
        write_log(&mut tx, log, at).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Parses one stored payload again and writes the result in one transaction.
    async fn reprocess_one(
        &self,
        id: i64,
        name: &str,
        content: &[u8],
        options: &ParseOptions,
    ) -> Result<ReprocessSummary> {
        use std::io::Read;
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(content)
            .read_to_end(&mut raw)
            .map_err(|e| StoreError::Corrupt(format!("payload {id} ({name}): {e}")))?;
        let prepared = crate::prepare::prepare(name, &raw, options);
        let at = now();
        let mut tx = self.begin_write().await?;
        let mut log = Vec::new();
        let mut counts = ReprocessSummary {
            payloads: 1,
            ..ReprocessSummary::default()
        };
        let mut children = Vec::new();
        for part in &prepared.parts {
            let (status, report_pk, error) = match &part.result {
                Ok(rows) => {
                    match write_report(
                        &mut tx,
                        id,
                        part.part.as_deref(),
                        rows,
                        OnSameXml::Rewrite,
                        at,
                        &mut children,
                    )
                    .await?
                    {
                        Written::Accepted { id, .. } => {
                            counts.accepted += 1;
                            (OutcomeStatus::Accepted, Some(id), None)
                        }
                        Written::Rewritten { id } => {
                            counts.refreshed += 1;
                            (OutcomeStatus::Duplicate, Some(id), None)
                        }
                        Written::Duplicate { id } => {
                            counts.duplicate += 1;
                            (OutcomeStatus::Duplicate, Some(id), None)
                        }
                    }
                }
                Err(e) => {
                    counts.rejected += 1;
                    (OutcomeStatus::Rejected, None, Some(e.clone()))
                }
            };
            log.push(LogRow {
                payload_id: id,
                part: part.part.clone(),
                status,
                report_pk,
                error,
            });
        }
        insert_children(&mut tx, &children).await?;
        write_log(&mut tx, log, at).await?;
        let mut done = Sql::new("UPDATE payloads SET processed_at = ");
        done.arg(Arg::Int(at))
            .push(" WHERE id = ")
            .arg(Arg::Int(id));
        done.query(backend_of(&tx)).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(counts)
    }
}

/// A report list entry from the [`SUMMARY_COLUMNS`] at the start of a row.
fn report_summary(row: &ReadRow) -> Result<ReportSummary> {
    Ok(ReportSummary {
        id: row.int(0)?,
        reporter: row.text(1)?,
        org_name: row.text(2)?,
        report_id: row.text(3)?,
        domain: row.text(4)?,
        begin: row.int(5)?,
        end: row.int(6)?,
        records: unsigned(row.int(7)?),
        messages: unsigned(row.int(8)?),
        dmarc_pass: unsigned(row.int(9)?),
        diagnostics: unsigned(row.int(10)?),
        conflict_with: row.opt_int(11)?,
        ingested_at: row.int(12)?,
    })
}

const SUMMARY_COLUMNS: &str = "r.id, r.reporter, r.organization, r.report_id, r.policy_domain, \
    r.begin_ts, r.end_ts, r.record_count, r.message_count, r.dmarc_pass, r.diagnostic_count, \
    r.conflict_with, r.ingested_at";

fn error_kind(text: &str) -> ErrorKind {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap_or(ErrorKind::Io)
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<()> {
        self.migrate_now().await
    }

    async fn ingest(&self, batch: &[Prepared]) -> Result<Vec<Vec<Outcome>>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let outcomes = self.retrying(|| self.ingest_once(batch)).await?;
        // A large transaction fills the write connection's page cache (up to 64 MiB);
        // give it back between batches rather than keep it resident. Smaller batches keep
        // theirs: the next one reuses it.
        let records: u64 = batch.iter().map(Prepared::record_count).sum();
        if self.backend == Backend::Sqlite && records >= SHRINK_AFTER_RECORDS {
            Sql::new("PRAGMA shrink_memory")
                .execute(self.backend, &self.writes)
                .await?;
        }
        Ok(outcomes)
    }

    async fn reprocess(
        &self,
        options: &ParseOptions,
        pending_only: bool,
    ) -> Result<ReprocessSummary> {
        let mut summary = ReprocessSummary::default();
        let mut after = 0i64;
        loop {
            // One payload at a time keeps memory bounded by the largest input.
            // A truncated input cannot be parsed again: only its head was kept.
            let mut sql =
                Sql::new("SELECT id, name, content FROM payloads WHERE truncated = 0 AND id > ");
            sql.arg(Arg::Int(after));
            if pending_only {
                sql.push(" AND processed_at IS NULL");
            }
            sql.push(" ORDER BY id LIMIT 1");
            let rows = sql.fetch_all(self.backend, &self.pool).await?;
            let Some(row) = rows.first() else { break };
            let id: i64 = row.try_get(0)?;
            let name: String = row.try_get(1)?;
            let content: Vec<u8> = row.try_get(2)?;
            after = id;
            let one = self
                .retrying(|| self.reprocess_one(id, &name, &content, options))
                .await?;
            summary.payloads += one.payloads;
            summary.accepted += one.accepted;
            summary.refreshed += one.refreshed;
            summary.duplicate += one.duplicate;
            summary.rejected += one.rejected;
        }
        Ok(summary)
    }

    async fn store_pending(&self, name: &str, bytes: &[u8]) -> Result<i64> {
        let sha = crate::prepare::hex_sha256(bytes);
        let compressed = crate::prepare::gzip(bytes);
        let mut tx = self.begin_write().await?;
        let payload = PayloadRow {
            name,
            sha256: &sha,
            size: bytes.len() as u64,
            compressed: &compressed,
            truncated: false,
        };
        let id = upsert_payload(&mut tx, &payload, false, now()).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn totals(&self) -> Result<Totals> {
        let row = Sql::new(
            "SELECT (SELECT COUNT(*) FROM payloads), \
             (SELECT COUNT(*) FROM payloads WHERE processed_at IS NULL), \
             (SELECT COUNT(*) FROM reports), (SELECT COUNT(*) FROM records), \
             (SELECT CAST(COALESCE(SUM(message_count), 0) AS BIGINT) FROM reports), \
             (SELECT COUNT(*) FROM reports WHERE conflict_with IS NOT NULL)",
        )
        .fetch_all(self.backend, &self.pool)
        .await?;
        let row = row
            .first()
            .ok_or_else(|| StoreError::Corrupt("no totals row".into()))?;
        Ok(Totals {
            payloads: unsigned(row.try_get(0)?),
            pending: unsigned(row.try_get(1)?),
            reports: unsigned(row.try_get(2)?),
            records: unsigned(row.try_get(3)?),
            messages: unsigned(row.try_get(4)?),
            conflicts: unsigned(row.try_get(5)?),
        })
    }

    async fn reports(&self, filter: &Filter, page: Page) -> Result<Paged<ReportSummary>> {
        let (limit, offset) = page.clamped();
        // Report-level conditions read `r`; record-level ones need a matching record.
        let mut report_filter = filter.clone();
        report_filter.source_ip = None;
        report_filter.dkim = None;
        report_filter.spf = None;
        report_filter.disposition = None;
        let mut where_sql = Sql::new(" WHERE 1 = 1");
        push_conditions(&mut where_sql, &report_filter, Target::Records);
        if has_record_conditions(filter) {
            let record_filter = Filter {
                source_ip: filter.source_ip,
                dkim: filter.dkim,
                spf: filter.spf,
                disposition: filter.disposition.clone(),
                ..Filter::default()
            };
            where_sql.push(" AND EXISTS (SELECT 1 FROM records x WHERE x.report_pk = r.id");
            push_conditions(&mut where_sql, &record_filter, Target::Records);
            where_sql.push(")");
        }
        let mut count = Sql::new("SELECT COUNT(*) FROM reports r");
        count.push(&where_sql.text);
        count.args = where_sql.args.clone();
        let total = self.read_count(count).await?;
        let mut list = Sql::new(&format!("SELECT {SUMMARY_COLUMNS} FROM reports r"));
        list.push(&where_sql.text);
        list.args = where_sql.args;
        list.push(" ORDER BY r.begin_ts DESC, r.id DESC LIMIT ")
            .arg(Arg::Int(limit))
            .push(" OFFSET ")
            .arg(Arg::Int(offset));
        let items = self
            .read(list)
            .await?
            .iter()
            .map(report_summary)
            .collect::<Result<Vec<_>>>()?;
        Ok(Paged {
            items,
            total: unsigned(total),
            limit: page.limit.clamp(1, Page::MAX_LIMIT),
            offset: page.offset,
        })
    }

    async fn report(&self, id: i64, page: Page) -> Result<Option<StoredReport>> {
        let mut sql = Sql::new(&format!(
            "SELECT {SUMMARY_COLUMNS}, r.meta, p.name, r.part FROM reports r \
             JOIN payloads p ON p.id = r.payload_id WHERE r.id = "
        ));
        sql.arg(Arg::Int(id));
        let rows = self.read(sql).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let summary = report_summary(row)?;
        let meta = row.text(13)?;
        let mut report: Report = serde_json::from_str(&meta)
            .map_err(|e| StoreError::Corrupt(format!("report {id} metadata: {e}")))?;
        let name = row.text(14)?;
        let part = row.opt_text(15)?;
        let mut records = Sql::new(
            "SELECT source_ip, count, disposition, dkim, spf, header_from, envelope_from, \
             envelope_to, detail FROM records WHERE report_pk = ",
        );
        let (limit, offset) = page.clamped();
        // Positions are 0.. in report order: a page is one range of the primary key.
        records
            .arg(Arg::Int(id))
            .push(" AND ord >= ")
            .arg(Arg::Int(offset))
            .push(" ORDER BY ord LIMIT ")
            .arg(Arg::Int(limit));
        for row in self.read(records).await? {
            report.records.push(
                record_from_columns(RecordColumns {
                    source_ip: row.opt_text(0)?,
                    count: row.int(1)?,
                    disposition: row.opt_text(2)?,
                    dkim: row.opt_text(3)?,
                    spf: row.opt_text(4)?,
                    header_from: row.opt_text(5)?,
                    envelope_from: row.opt_text(6)?,
                    envelope_to: row.opt_text(7)?,
                    detail: row.text(8)?,
                })
                .map_err(|e| StoreError::Corrupt(format!("report {id}: {e}")))?,
            );
        }
        Ok(Some(StoredReport {
            summary,
            records_page: Page {
                limit: page.limit.clamp(1, Page::MAX_LIMIT),
                offset: page.offset,
            },
            source: match part {
                Some(part) => format!("{name} > {part}"),
                None => name,
            },
            report,
        }))
    }

    async fn domains(&self) -> Result<Vec<DomainInfo>> {
        let sql = Sql::new(
            "SELECT policy_domain, COUNT(*), CAST(SUM(message_count) AS BIGINT), MIN(begin_ts), \
             MAX(end_ts) FROM reports GROUP BY policy_domain ORDER BY policy_domain",
        );
        self.read(sql)
            .await?
            .iter()
            .map(|row| {
                Ok(DomainInfo {
                    domain: row.text(0)?,
                    reports: unsigned(row.int(1)?),
                    messages: unsigned(row.int(2)?),
                    first_begin: row.int(3)?,
                    last_end: row.int(4)?,
                })
            })
            .collect()
    }

    async fn summary(&self, filter: &Filter) -> Result<Summary> {
        rollups::summary(self, filter).await
    }

    async fn by_domain(&self, filter: &Filter) -> Result<Vec<Group>> {
        rollups::grouped(self, "policy_domain", filter).await
    }

    async fn by_organization(&self, filter: &Filter) -> Result<Vec<Group>> {
        rollups::grouped(self, "organization", filter).await
    }

    async fn by_source(&self, filter: &Filter, page: Page) -> Result<Paged<SourceGroup>> {
        rollups::by_source(self, filter, page).await
    }

    async fn disposition_breakdown(&self, filter: &Filter) -> Result<DispositionBreakdown> {
        rollups::disposition(self, filter).await
    }

    async fn alignment_breakdown(&self, filter: &Filter) -> Result<AlignmentBreakdown> {
        rollups::alignment(self, filter).await
    }

    async fn policy_compliance(&self, filter: &Filter) -> Result<PolicyCompliance> {
        rollups::compliance(self, filter).await
    }

    async fn timeline(&self, filter: &Filter) -> Result<Vec<DayBucket>> {
        rollups::timeline(self, filter).await
    }

    async fn source_activity(&self, filter: &Filter) -> Result<Vec<SourceActivity>> {
        rollups::source_activity(self, filter).await
    }

    async fn export_records(
        &self,
        filter: &Filter,
        after: Option<(i64, i64)>,
        limit: u32,
    ) -> Result<Vec<RecordExport>> {
        let mut sql = Sql::new(
            "SELECT r.id, x.ord, r.organization, r.report_id, r.policy_domain, r.begin_ts, \
             r.end_ts, x.source_ip, x.count, x.disposition, x.dkim, x.spf, x.dkim_pass, \
             x.spf_pass, x.header_from, x.envelope_from, x.envelope_to \
             FROM records x JOIN reports r ON r.id = x.report_pk WHERE 1 = 1",
        );
        push_conditions(&mut sql, filter, Target::Records);
        if let Some((report, ord)) = after {
            sql.push(" AND (x.report_pk > ")
                .arg(Arg::Int(report))
                .push(" OR (x.report_pk = ")
                .arg(Arg::Int(report))
                .push(" AND x.ord > ")
                .arg(Arg::Int(ord))
                .push("))");
        }
        sql.push(" ORDER BY x.report_pk, x.ord LIMIT ")
            .arg(Arg::Int(i64::from(limit.clamp(1, Page::MAX_LIMIT))));
        let mut out = Vec::new();
        for row in self.read(sql).await? {
            out.push(RecordExport {
                report: row.int(0)?,
                ord: row.int(1)?,
                org_name: row.text(2)?,
                report_id: row.text(3)?,
                domain: row.text(4)?,
                begin: row.int(5)?,
                end: row.int(6)?,
                source_ip: row.opt_text(7)?,
                count: unsigned(row.int(8)?),
                disposition: row.opt_text(9)?,
                dkim: row.opt_text(10)?,
                spf: row.opt_text(11)?,
                dkim_aligned: row.int(12)? == 1,
                spf_aligned: row.int(13)? == 1,
                header_from: row.opt_text(14)?,
                envelope_from: row.opt_text(15)?,
                envelope_to: row.opt_text(16)?,
            });
        }
        Ok(out)
    }

    async fn outcomes(&self, page: Page) -> Result<Paged<Outcome>> {
        let (limit, offset) = page.clamped();
        let total = Sql::new("SELECT COUNT(*) FROM ingest_log")
            .fetch_count(self.backend, &self.pool)
            .await?;
        let mut sql = Sql::new(
            "SELECT p.name, l.part, l.status, l.report_pk, r.reporter, r.report_id, \
             r.policy_domain, r.record_count, r.message_count, r.conflict_with, l.error_kind, \
             l.message FROM ingest_log l JOIN payloads p ON p.id = l.payload_id \
             LEFT JOIN reports r ON r.id = l.report_pk ORDER BY l.id DESC LIMIT ",
        );
        sql.arg(Arg::Int(limit))
            .push(" OFFSET ")
            .arg(Arg::Int(offset));
        let mut items = Vec::new();
        for row in sql.fetch_all(self.backend, &self.pool).await? {
            let status = OutcomeStatus::parse(&row.try_get::<String, _>(2)?);
            let report_pk: Option<i64> = row.try_get(3)?;
            let report = match report_pk {
                Some(id) => Some(ReportRef {
                    id,
                    reporter: row.try_get(4)?,
                    report_id: row.try_get(5)?,
                    domain: row.try_get(6)?,
                }),
                None => None,
            };
            let kind: Option<String> = row.try_get(10)?;
            let message: Option<String> = row.try_get(11)?;
            items.push(Outcome {
                input: row.try_get(0)?,
                part: row.try_get(1)?,
                outcome: status,
                records: report_pk.map_or(Ok(0), |_| row.try_get::<i64, _>(7).map(unsigned))?,
                messages: report_pk.map_or(Ok(0), |_| row.try_get::<i64, _>(8).map(unsigned))?,
                conflict_with: if status == OutcomeStatus::Accepted {
                    row.try_get(9)?
                } else {
                    None
                },
                report,
                error: kind
                    .map(|kind| ParseError::new(error_kind(&kind), message.unwrap_or_default())),
            });
        }
        Ok(Paged {
            items,
            total: unsigned(total),
            limit: page.limit.clamp(1, Page::MAX_LIMIT),
            offset: page.offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_backends_and_hide_passwords() {
        assert_eq!(Backend::of_url("sqlite://x.db").ok(), Some(Backend::Sqlite));
        assert!(
            Backend::of_url("sqlite::memory:").is_err(),
            "one connection only"
        );
        assert_eq!(
            Backend::of_url("postgresql://h/db").ok(),
            Some(Backend::Postgres)
        );
        let err = Backend::of_url("mysql://u:secret@h/db")
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("secret") && err.contains("u:***@h/db"),
            "{err}"
        );
    }

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
