//! # dmarc-store
//!
//! Durable storage of DMARC aggregate reports: SQLite (embedded, the default) and
//! PostgreSQL (production, several processes): one [`Store`] over `sqlx::Any` serves both, the
//! backend chosen by the URL, and one contract test suite runs against each.
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
//!   authentication, and the job queue, live in the same database: methods of [`Store`].
//!
//! SQL is written once, for both backends (runtime queries through `sqlx::Any`; every
//! integer is a 64-bit integer, `$n` placeholders); the schema has one migration folder per
//! backend.

#![deny(missing_docs)]

mod accounts;
mod alerts;
mod backend;
mod error;
mod geo;
mod jobs;
mod ml;
mod pipeline;
mod prepare;
mod purge;
mod query;
mod reads;
mod reports;
mod rollups;
mod senders;
mod sources;
mod store;
mod types;
mod write;

#[cfg(feature = "testing")]
pub mod testing;

pub use accounts::{
    ApiKeyInfo, AuditEntry, NewAuditEntry, Refresh, Role, User, UserChange, normalize_email,
};
pub use alerts::{
    Alert, AlertFilter, AlertRule, AlertState, AlertStats, Attempt, Count, Delivery, Finding,
    NewSuppression, Recorded, RuleSettings, Suppression,
};
pub use backend::Backend;
pub use error::StoreError;
pub use geo::CountryTally;
pub use jobs::{Job, JobCount, JobFilter, JobState, NewJob};
pub use ml::{DetectionRun, NewModel, NewPrediction, Prediction, PredictionFilter, StoredModel};
pub use pipeline::{Enrich, Input, InputDone, PipelineOptions, run as ingest_inputs};
pub use prepare::{KEPT_HEAD, Prepared, PreparedPart, ReportRows, batches, prepare};
pub use purge::PurgeSummary;
pub use store::{DEFAULT_READ_TIMEOUT, Store, connect};
pub use types::{
    DomainInfo, Outcome, OutcomeStatus, OutcomeTally, Page, Paged, Place, RawInput, RecordExport,
    ReportRef, ReportSummary, ReprocessSummary, StoredReport, Totals,
};

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// UTC seconds since the epoch, from the system clock: the time of ingestion to give
/// [`ParseOptions::at`](dmarc_core::ParseOptions::at).
pub fn unix_now() -> i64 {
    store::now()
}

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://dmarc.db";
