//! The store: a connection pool over `sqlx::Any` for either backend, the SQLite write
//! connection, the read pool under a time limit, transactions and their retries. Its
//! methods are spread by subject: reports and ingestion in `reports.rs` (the write path in
//! `write.rs`), rollups in `rollups.rs`, accounts in `accounts/`, jobs in `jobs.rs`.
//!
//! Rules that keep one SQL text valid on both: `$n` placeholders, every integer a 64-bit
//! integer (decoded as `i64`), sums wrapped in `CAST(... AS BIGINT)` (PostgreSQL sums
//! bigints into numerics), no booleans (0/1 integers), timestamps as epoch seconds.

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, AssertSqlSafe, Transaction};

use crate::Result;
use crate::backend::Backend;
use crate::query::{Arg, Sql};
use crate::reads::{ReadRow, Reads};
use crate::types::{Page, Paged};

/// Attempts of a batch that hit a deadlock or a busy database.
const TRANSIENT_RETRIES: u32 = 6;

/// Opens the database a URL names (`sqlite://PATH`, created if missing, or
/// `postgres://...`) and applies pending migrations.
pub async fn connect(url: &str) -> Result<Store> {
    Store::connect(url).await
}

/// Storage of reports, their raw inputs and ingest outcomes, the queries over them, and
/// the server's accounts and jobs: one implementation for SQLite and PostgreSQL.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    /// Where write transactions run: on SQLite one connection (SQLite serialises writers
    /// anyway), on PostgreSQL the pool.
    pub(crate) writes: AnyPool,
    pub(crate) backend: Backend,
    /// Where reads a caller can make expensive run, under a time limit.
    pub(crate) reads: Reads,
}

/// Records of a write transaction after which SQLite's write connection gives its page
/// cache back.
pub(crate) const SHRINK_AFTER_RECORDS: u64 = 50_000;

/// How long a read may run before it is stopped, unless told otherwise.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
impl Store {
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
        Ok(Store {
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
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A page of the rows of `table` that `conditions` selects (it appends a `WHERE`
    /// clause, or nothing), newest (highest id) first, each read by `item`, with how many
    /// rows it selects in all.
    pub(crate) async fn newest_first<T>(
        &self,
        table: &str,
        columns: &str,
        conditions: impl Fn(&mut Sql),
        page: Page,
        item: impl Fn(&AnyRow) -> Result<T>,
    ) -> Result<Paged<T>> {
        self.paged(table, columns, conditions, "id DESC", page, item)
            .await
    }

    /// As [`Store::newest_first`], in the order `order` (an `ORDER BY` list).
    pub(crate) async fn paged<T>(
        &self,
        table: &str,
        columns: &str,
        conditions: impl Fn(&mut Sql),
        order: &str,
        page: Page,
        item: impl Fn(&AnyRow) -> Result<T>,
    ) -> Result<Paged<T>> {
        let (limit, offset) = page.clamped();
        let mut count = Sql::new(&format!("SELECT COUNT(*) FROM {table}"));
        conditions(&mut count);
        let total = count.fetch_count(self.backend, self.pool()).await?;
        let mut sql = Sql::new(&format!("SELECT {columns} FROM {table}"));
        conditions(&mut sql);
        sql.push(&format!(" ORDER BY {order} LIMIT "))
            .arg(Arg::Int(limit))
            .push(" OFFSET ")
            .arg(Arg::Int(offset));
        let items = sql
            .fetch_all(self.backend, self.pool())
            .await?
            .iter()
            .map(item)
            .collect::<Result<_>>()?;
        Ok(Paged::of(
            items,
            u64::try_from(total).unwrap_or_default(),
            page,
        ))
    }

    /// Applies pending migrations (also done when connecting).
    pub async fn migrate(&self) -> Result<()> {
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
    pub(crate) async fn retrying<T, F, Fut>(&self, mut op: F) -> Result<T>
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

pub(crate) fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
