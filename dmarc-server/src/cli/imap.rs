//! `dmarc imap fetch`: one ingestion pass over the configured mailboxes, in the foreground.

use std::process::ExitCode;

use clap::Subcommand;
use dmarc_server::ingest::Ingest;
use dmarc_store::Store;

use super::serve::{ConfigArgs, init_logs};

#[derive(Debug, clap::Args)]
pub(crate) struct ImapArgs {
    #[command(subcommand)]
    command: ImapCommand,
}

#[derive(Debug, Subcommand)]
enum ImapCommand {
    /// Fetch every configured mailbox once: store the reports, move the messages. Prints
    /// a JSON summary per mailbox; exits 1 when a mailbox could not be fetched.
    Fetch {
        #[command(flatten)]
        common: ConfigArgs,
    },
}

pub(crate) fn run(args: &ImapArgs) -> ExitCode {
    let ImapCommand::Fetch { common } = &args.command;
    let config = match common.load("imap fetch") {
        Ok(config) => config,
        Err(code) => return code,
    };
    if config.mailboxes().next().is_none() {
        eprintln!(
            "dmarc imap fetch: no mailbox is configured: set [imap] in the configuration file \
             or DMARC_IMAP_HOST, DMARC_IMAP_USER and DMARC_IMAP_PASSWORD"
        );
        return ExitCode::from(2);
    }
    init_logs(config.log_format);
    super::runtime().block_on(async move {
        let store = match Store::connect(&config.database_url.0).await {
            Ok(store) => store,
            Err(e) => {
                eprintln!("dmarc imap fetch: {e}");
                return ExitCode::from(2);
            }
        };
        // Counted here for nothing: this process serves no /metrics.
        let metrics = std::sync::Arc::new(dmarc_server::metrics::Metrics::default());
        let ingest = Ingest::new(store, &config.limits, metrics)
            .queue_after_new_reports(dmarc_server::jobs::evaluation_after_ingest(&config));
        match dmarc_server::imap::fetch_all(&ingest, &config).await {
            Ok(summary) => {
                for mailbox in &summary.mailboxes {
                    println!("{}", serde_json::to_string(mailbox).unwrap_or_default());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("dmarc imap fetch: {e:#}");
                ExitCode::from(1)
            }
        }
    })
}
