//! The `dmarc` command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod db_cmd;
mod imap_cmd;
mod ingest_cmd;
mod inputs;
mod parse_cmd;
mod serve_cmd;
mod user_cmd;
mod worker_cmd;

/// DMARC aggregate report analytics.
#[derive(Debug, Parser)]
#[command(name = "dmarc", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse report files (no database): XML, gzip, zlib, zip, .eml and .mbox, or folders
    /// of them (recursively).
    Parse(parse_cmd::ParseArgs),
    /// Store report files in the database; one outcome per report found.
    Ingest(ingest_cmd::IngestArgs),
    /// Apply pending database migrations.
    Migrate(db_cmd::MigrateArgs),
    /// Parse stored raw inputs again (after a parser upgrade) without creating duplicates.
    Reprocess(db_cmd::ReprocessArgs),
    /// Serve the HTTP API, with the scheduler and workers.
    Serve(serve_cmd::ServeArgs),
    /// Run queued jobs only (scale-out on a shared database).
    Worker(worker_cmd::WorkerArgs),
    /// Mailbox ingestion.
    Imap(imap_cmd::ImapArgs),
    /// Manage user accounts.
    User(user_cmd::UserArgs),
}

/// The database option every command that stores data takes.
#[derive(Debug, Clone, clap::Args)]
struct DatabaseArgs {
    /// `sqlite://PATH` (created if missing) or `postgres://USER:PASSWORD@HOST/DB`.
    #[arg(
        long,
        env = "DMARC_DATABASE_URL",
        default_value = dmarc_store::DEFAULT_DATABASE_URL,
        hide_env_values = true
    )]
    database_url: String,
}

/// Connects to the database (applying migrations); on failure prints why and gives the
/// exit code.
async fn open_store(
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

/// The async runtime for database work.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("dmarc: cannot start the async runtime: {e}");
            std::process::exit(2)
        })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => parse_cmd::run(&args),
        Command::Ingest(args) => ingest_cmd::run(&args),
        Command::Migrate(args) => db_cmd::migrate(&args),
        Command::Reprocess(args) => db_cmd::reprocess(&args),
        Command::Serve(args) => serve_cmd::run(&args),
        Command::User(args) => user_cmd::run(&args),
        Command::Worker(args) => worker_cmd::run(&args),
        Command::Imap(args) => imap_cmd::run(&args),
    }
}
