//! `dmarc worker`: runs queued jobs, nothing else (scale-out next to `dmarc serve`, on the
//! same database).

use std::process::ExitCode;
use std::sync::Arc;

use dmarc_server::jobs::Jobs;
use dmarc_server::metrics::Metrics;
use dmarc_server::shutdown;
use dmarc_store::Store;

use super::serve::{ConfigArgs, init_logs};

#[derive(Debug, clap::Args)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    common: ConfigArgs,
    /// Worker tasks (overrides `jobs.workers`).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
}

pub(crate) fn run(args: &WorkerArgs) -> ExitCode {
    let mut config = match args.common.load("worker") {
        Ok(config) => config,
        Err(code) => return code,
    };
    if let Some(n) = args.workers {
        config.jobs.workers = n;
    }
    if config.jobs.workers == 0 {
        eprintln!("dmarc worker: no workers to run (jobs.workers is 0)");
        return ExitCode::from(2);
    }
    init_logs(config.log_format);
    super::runtime().block_on(async move {
        let store = match Store::connect_with(&config.database_url.0, config.limits.query_timeout())
            .await
        {
            Ok(store) => store,
            Err(e) => {
                eprintln!("dmarc worker: {e}");
                return ExitCode::from(2);
            }
        };
        let workers = config.jobs.workers;
        let jobs = Jobs::new(store, Arc::new(config), Arc::new(Metrics::default()));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let tasks = jobs.spawn_workers(workers, &stopped);
        tracing::info!(workers, "dmarc worker running");
        shutdown::signal().await;
        let _ = stop.send(true);
        for task in tasks {
            let _ = task.await;
        }
        ExitCode::SUCCESS
    })
}
