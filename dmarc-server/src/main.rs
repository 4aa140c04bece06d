//! The `dmarc` command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

use cli::{db, imap, ingest, parse, serve, user, worker};

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
    Parse(parse::ParseArgs),
    /// Store report files in the database; one outcome per report found.
    Ingest(ingest::IngestArgs),
    /// Apply pending database migrations.
    Migrate(db::MigrateArgs),
    /// Parse stored raw inputs again (after a parser upgrade) without creating duplicates.
    Reprocess(db::ReprocessArgs),
    /// Delete reports whose period ended more than DAYS ago, with their records,
    /// aggregates, raw inputs and ingest-log rows (what `retention.days` does daily).
    Purge(db::PurgeArgs),
    /// Serve the HTTP API, with the scheduler and workers.
    Serve(serve::ServeArgs),
    /// Run queued jobs only (scale-out on a shared database).
    Worker(worker::WorkerArgs),
    /// Mailbox ingestion.
    Imap(imap::ImapArgs),
    /// Manage user accounts.
    User(user::UserArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => parse::run(&args),
        Command::Ingest(args) => ingest::run(&args),
        Command::Migrate(args) => db::migrate(&args),
        Command::Reprocess(args) => db::reprocess(&args),
        Command::Purge(args) => db::purge(&args),
        Command::Serve(args) => serve::run(&args),
        Command::User(args) => user::run(&args),
        Command::Worker(args) => worker::run(&args),
        Command::Imap(args) => imap::run(&args),
    }
}
