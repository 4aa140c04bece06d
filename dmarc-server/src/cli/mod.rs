//! The commands of the `dmarc` binary, one module each, and what they share: the database
//! option, opening the store, the async runtime.

use std::process::ExitCode;

pub(crate) mod db;
pub(crate) mod imap;
pub(crate) mod ingest;
mod inputs;
pub(crate) mod parse;
pub(crate) mod serve;
pub(crate) mod user;
pub(crate) mod worker;

/// The database option every command that stores data takes.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DatabaseArgs {
    /// `sqlite://PATH` (created if missing) or `postgres://USER:PASSWORD@HOST/DB`.
    #[arg(
        long,
        env = "DMARC_DATABASE_URL",
        default_value = dmarc_store::DEFAULT_DATABASE_URL,
        hide_env_values = true
    )]
    pub(crate) database_url: String,
}

/// Connects to the database (applying migrations); on failure prints why and gives the
/// exit code.
pub(crate) async fn open_store(
    database: &DatabaseArgs,
    command: &str,
) -> Result<dmarc_store::Store, ExitCode> {
    dmarc_store::connect(&database.database_url)
        .await
        .map_err(|e| {
            eprintln!("dmarc {command}: {e}");
            ExitCode::from(2)
        })
}

/// The enrichment step of command-line ingestion: geolocation as `DMARC_GEO_*` say (on by
/// default, with the bundled data), or why it cannot run.
pub(crate) fn geo_from_env(
    command: &str,
) -> Result<Option<std::sync::Arc<dyn dmarc_store::Enrich>>, ExitCode> {
    let failed = |e: String| {
        eprintln!("dmarc {command}: {e}");
        ExitCode::from(2)
    };
    let config = dmarc_server::config::Config::load(None, std::env::vars())
        .map_err(|e| failed(e.to_string()))?;
    let geo = dmarc_server::geo::Geo::open(&config.geo).map_err(|e| failed(e.0))?;
    Ok(geo.map(|g| g as std::sync::Arc<dyn dmarc_store::Enrich>))
}

/// The async runtime for database work.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("dmarc: cannot start the async runtime: {e}");
            std::process::exit(2)
        })
}
