//! The `dmarc` command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod inputs;
mod parse_cmd;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => parse_cmd::run(&args),
    }
}
