//! The `dmarc` server as a library: what the binary runs (the HTTP API, jobs, mailbox
//! ingestion), so tests and embedders build the same application.
//!
//! - [`Config`]: defaults < TOML file < `DMARC_*` variables, validated.
//! - [`AppState`] and [`build_app`]: the axum application; [`serve`] runs it until
//!   [`shutdown::signal`].
//! - [`Jobs`]: the job queue's workers and scheduler; [`Ingest`]: the ingest pipeline with
//!   the configured limits, shared by uploads, mailboxes and jobs.
//! - [`credentials`]: password hashing and policy, tokens and keys.

pub mod alerts;
pub mod config;
pub mod credentials;
pub mod cron;
pub mod demo;
pub mod geo;
pub mod http;
pub mod imap;
pub mod ingest;
pub mod jobs;
pub mod metrics;
pub mod ml;
mod pdf;
pub mod shutdown;

pub use config::Config;
pub use http::{AppState, build_app, serve, serve_until};
pub use ingest::Ingest;
pub use jobs::Jobs;
pub use metrics::Metrics;
