//! The one SQL implementation of [`Store`], for SQLite and PostgreSQL through `sqlx::Any`:
//! connecting (pools, migrations), and the trait's methods. The SQL text and the filter as
//! SQL are in `query.rs`, the write path in `write.rs`, the rollups in `rollups.rs`, reads
//! under a time limit in `reads.rs`.
//!
//! Rules that keep one text valid on both: `$n` placeholders, every integer a 64-bit
//! integer (decoded as `i64`), sums wrapped in `CAST(... AS BIGINT)` (PostgreSQL sums
//! bigints into numerics), no booleans (0/1 integers), timestamps as epoch seconds.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dmarc_core::rollup::{
    AlignmentBreakdown, DayBucket, DispositionBreakdown, Group, PolicyCompliance, SourceActivity,
    SourceGroup, Summary,
};
use dmarc_core::{Error as ParseError, ErrorKind, Filter, ParseOptions, Report};
use serde::Serialize;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyConnection, AnyPool, AssertSqlSafe, Row, Transaction};

use crate::prepare::{Prepared, RecordColumns, record_from_columns};
use crate::query::{Arg, Sql, Target, has_record_conditions, push_conditions};
use crate::reads::{ReadRow, Reads};
use crate::types::{
    DomainInfo, Outcome, OutcomeStatus, Page, Paged, RecordExport, ReportRef, ReportSummary,
    ReprocessSummary, StoredReport, Totals,
};
use crate::write::{PayloadRow, upsert_payload};
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
pub(crate) fn backend_of(conn: &AnyConnection) -> Backend {
    if conn.backend_name() == "SQLite" {
        Backend::Sqlite
    } else {
        Backend::Postgres
    }
}

pub(crate) fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
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
}
