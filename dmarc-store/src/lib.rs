//! # dmarc-store
//!
//! Durable storage of DMARC aggregate reports: SQLite (embedded, the default) and
//! PostgreSQL (production, several processes), behind one async [`Store`] trait and one
//! contract test suite.
//!
//! - Ingestion is transactional and idempotent: [`prepare`] parses an input and compresses
//!   its raw bytes (CPU-bound, run it on any thread), [`Store::ingest`] writes a batch in one
//!   transaction and returns one [`Outcome`] per payload: accepted, duplicate (naming the
//!   stored report) or rejected (kind and message). The raw input is kept either way, so
//!   [`Store::reprocess`] can parse it again after a parser fix without creating duplicates.
//! - Duplicates follow dmarc-format.md §3.6: same reporter, report id, policy domain and
//!   period, or the same decompressed XML (SHA-256). Same identity with another period is
//!   kept and flagged as a conflict.
//! - Queries take the core's [`Filter`]; rollups equal [`dmarc_core::rollup`]'s for the
//!   same reports and filter. Dashboard rollups read `rollup_daily`, a per-report, per-day
//!   aggregate written with each report; source rollups read the records.
//!
//! - Accounts (users, login sessions, API keys, the audit log, settings) for the server's
//!   authentication live in the same database: methods of [`SqlStore`].
//!
//! SQL is written once, for both backends (runtime queries through `sqlx::Any`; every
//! integer is a 64-bit integer, `$n` placeholders); the schema has one migration folder per
//! backend.

#![deny(missing_docs)]

mod accounts;
mod error;
mod jobs;
mod pipeline;
mod prepare;
mod query;
mod reads;
mod rollups;
mod sql;
mod types;
mod write;

#[cfg(feature = "testing")]
pub mod testing;

use async_trait::async_trait;
use dmarc_core::Filter;
use dmarc_core::rollup::{
    AlignmentBreakdown, DayBucket, DispositionBreakdown, Group, PolicyCompliance, SourceActivity,
    SourceGroup, Summary, TrendPoint,
};

pub use accounts::{
    ApiKeyInfo, AuditEntry, NewAuditEntry, Refresh, Role, User, UserChange, normalize_email,
};
pub use error::StoreError;
pub use jobs::{Job, JobCount, JobFilter, JobState, NewJob};
pub use pipeline::{Input, InputDone, PipelineOptions, run as ingest_inputs};
pub use prepare::{KEPT_HEAD, Prepared, PreparedPart, ReportRows, batches, prepare};
pub use sql::{Backend, DEFAULT_READ_TIMEOUT, PgStore, SqlStore, SqliteStore, connect};
pub use types::{
    DomainInfo, Outcome, OutcomeStatus, OutcomeTally, Page, Paged, RecordExport, ReportRef,
    ReportSummary, ReprocessSummary, StoredReport, Totals,
};

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// UTC seconds since the epoch, from the system clock: the time of ingestion to give
/// [`ParseOptions::at`](dmarc_core::ParseOptions::at).
pub fn unix_now() -> i64 {
    sql::now()
}

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://dmarc.db";

/// Storage of reports, their raw inputs and ingest outcomes, and the queries over them.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which database this is.
    fn backend(&self) -> Backend;

    /// Applies pending migrations (also done when connecting).
    async fn migrate(&self) -> Result<()>;

    /// Writes a batch of prepared inputs in one transaction: raw payloads, accepted
    /// reports, and one outcome per payload part (also logged in the store). Returns the
    /// outcomes per input, in order. Re-ingesting anything is safe.
    async fn ingest(&self, batch: &[Prepared]) -> Result<Vec<Vec<Outcome>>>;

    /// Parses stored raw inputs again (all, or only those never parsed when
    /// `pending_only`): new reports are added, reports already stored from the same XML
    /// are rewritten with the new parse (same id), nothing is duplicated.
    async fn reprocess(
        &self,
        options: &dmarc_core::ParseOptions,
        pending_only: bool,
    ) -> Result<ReprocessSummary>;

    /// Stores raw inputs without parsing them (for later processing).
    async fn store_pending(&self, name: &str, bytes: &[u8]) -> Result<i64>;

    /// Counts of what is stored.
    async fn totals(&self) -> Result<Totals>;

    /// Reports matching the filter (those with at least one matching record), newest
    /// period first, then highest id first.
    async fn reports(&self, filter: &Filter, page: Page) -> Result<Paged<ReportSummary>>;

    /// One report with its diagnostics and one page of its records (in report order).
    async fn report(&self, id: i64, records: Page) -> Result<Option<StoredReport>>;

    /// Every policy domain with its report and message counts.
    async fn domains(&self) -> Result<Vec<DomainInfo>>;

    /// Headline figures.
    async fn summary(&self, filter: &Filter) -> Result<Summary>;

    /// Messages per policy domain, most first.
    async fn by_domain(&self, filter: &Filter) -> Result<Vec<Group>>;

    /// Messages per reporting organisation, most first.
    async fn by_organization(&self, filter: &Filter) -> Result<Vec<Group>>;

    /// Messages per source address, most first, paginated (`total` counts addresses).
    async fn by_source(&self, filter: &Filter, page: Page) -> Result<Paged<SourceGroup>>;

    /// Messages by applied disposition.
    async fn disposition_breakdown(&self, filter: &Filter) -> Result<DispositionBreakdown>;

    /// Messages by aligned DKIM x aligned SPF verdict.
    async fn alignment_breakdown(&self, filter: &Filter) -> Result<AlignmentBreakdown>;

    /// DMARC compliance and the treatment of failures.
    async fn policy_compliance(&self, filter: &Filter) -> Result<PolicyCompliance>;

    /// Messages per UTC day.
    async fn timeline(&self, filter: &Filter) -> Result<Vec<DayBucket>>;

    /// Daily failure rate with a `window`-day moving average.
    async fn failure_trend(&self, filter: &Filter, window: usize) -> Result<Vec<TrendPoint>> {
        let days = self.timeline(filter).await?;
        Ok(dmarc_core::rollup::trend_from_timeline(&days, window))
    }

    /// What each source address did (the input of anomaly scoring).
    async fn source_activity(&self, filter: &Filter) -> Result<Vec<SourceActivity>>;

    /// Records matching the filter with their report's columns, ordered by report and
    /// position, starting after `after` (a `(report, ord)` key from the previous call), at
    /// most `limit`: pages through any number of records at constant cost.
    async fn export_records(
        &self,
        filter: &Filter,
        after: Option<(i64, i64)>,
        limit: u32,
    ) -> Result<Vec<RecordExport>>;

    /// Recent ingest outcomes, newest first.
    async fn outcomes(&self, page: Page) -> Result<Paged<Outcome>>;
}
