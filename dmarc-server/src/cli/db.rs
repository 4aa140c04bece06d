//! `dmarc migrate`, `dmarc reprocess` and `dmarc purge`.

use std::process::ExitCode;

use dmarc_core::ParseOptions;
use dmarc_store::PipelineOptions;

use super::DatabaseArgs;

#[derive(Debug, clap::Args)]
pub(crate) struct MigrateArgs {
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReprocessArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Only inputs stored without being parsed yet.
    #[arg(long)]
    pending_only: bool,
    /// Reject reports with any diagnostic of severity warning or error.
    #[arg(long)]
    strict: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PurgeArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Delete reports whose period ended more than this many days ago (at least 1).
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    older_than: u32,
}

pub(crate) fn migrate(args: &MigrateArgs) -> ExitCode {
    super::runtime().block_on(async {
        // Connecting applies pending migrations.
        let store = match super::open_store(&args.database, "migrate").await {
            Ok(store) => store,
            Err(code) => return code,
        };
        match store.totals().await {
            Ok(totals) => {
                println!(
                    "database is up to date: {} reports, {} records, {} raw inputs",
                    totals.reports, totals.records, totals.payloads
                );
                ExitCode::SUCCESS
            }
            Err(e) => failed("migrate", &e),
        }
    })
}

pub(crate) fn reprocess(args: &ReprocessArgs) -> ExitCode {
    let options = ParseOptions {
        strict: args.strict,
        ..ParseOptions::at(dmarc_store::unix_now())
    };
    let enrich = match super::geo_from_env("reprocess") {
        Ok(enrich) => enrich,
        Err(code) => return code,
    };
    super::runtime().block_on(async {
        let store = match super::open_store(&args.database, "reprocess").await {
            Ok(store) => store,
            Err(code) => return code,
        };
        // Stored inputs are parsed on every core, like `dmarc ingest`.
        let pipeline = PipelineOptions {
            parsers: std::thread::available_parallelism().map_or(1, usize::from),
            enrich,
            ..PipelineOptions::new(options)
        };
        match store.reprocess(pipeline, args.pending_only).await {
            Ok(s) => {
                println!(
                    "{} raw inputs parsed: {} new reports, {} rewritten, {} duplicates, {} rejected",
                    s.payloads, s.accepted, s.refreshed, s.duplicate, s.rejected
                );
                ExitCode::SUCCESS
            }
            Err(e) => failed("reprocess", &e),
        }
    })
}

pub(crate) fn purge(args: &PurgeArgs) -> ExitCode {
    let before = dmarc_store::unix_now() - i64::from(args.older_than) * 86_400;
    super::runtime().block_on(async {
        let store = match super::open_store(&args.database, "purge").await {
            Ok(store) => store,
            Err(code) => return code,
        };
        match store.purge(before).await {
            Ok(s) => {
                println!(
                    "purged {} reports ({} records), {} raw inputs and {} ingest-log rows",
                    s.reports, s.records, s.payloads, s.log_rows
                );
                ExitCode::SUCCESS
            }
            Err(e) => failed("purge", &e),
        }
    })
}

fn failed(command: &str, error: &dmarc_store::StoreError) -> ExitCode {
    eprintln!("dmarc {command}: {error}");
    ExitCode::from(2)
}
