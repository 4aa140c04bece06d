//! The `dmarc` server as a library: configuration and the HTTP API, so tests (and embedders)
//! build the same application the binary serves.

pub mod config;
pub mod demo;
pub mod http;
pub mod imap;
pub mod ingest;
pub mod jobs;
pub mod pdf;

pub use http::{AppState, build_app, serve};
