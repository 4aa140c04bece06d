//! `dmarc serve`: the HTTP API, the scheduler and workers in one process.

use std::path::PathBuf;
use std::process::ExitCode;

use dmarc_server::config::{Config, LogFormat, Secret};
use dmarc_server::jobs::scheduler;
use dmarc_server::serve_until;
use dmarc_server::shutdown;
use dmarc_server::{AppState, build_app};
use dmarc_store::Store;

/// Where the configuration comes from (every command that runs jobs takes these).
#[derive(Debug, clap::Args)]
pub(crate) struct ConfigArgs {
    /// TOML configuration file.
    #[arg(long, env = "DMARC_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Overrides `database_url` of the file and `DMARC_DATABASE_URL`.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

impl ConfigArgs {
    /// Defaults < file < environment < flags; on failure prints why and gives the exit
    /// code.
    pub(crate) fn load(&self, command: &str) -> Result<Config, ExitCode> {
        let mut config = Config::load(self.config.as_deref(), std::env::vars()).map_err(|e| {
            eprintln!("dmarc {command}: configuration: {e}");
            ExitCode::from(2)
        })?;
        if let Some(url) = &self.database_url {
            config.database_url = Secret(url.clone());
        }
        Ok(config)
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    common: ConfigArgs,
    /// Overrides `listen`, e.g. `0.0.0.0:8080`.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Start on a fresh SQLite file in a temporary folder with sample reports and an admin
    /// whose password is printed (nothing of it is kept after the process ends).
    #[arg(long)]
    demo: bool,
}

/// Installs the log subscriber: `RUST_LOG` filters (default `info`), text or JSON lines on
/// standard error.
pub(crate) fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Logs go to standard error; standard output is for what a command prints.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

pub(crate) fn run(args: &ServeArgs) -> ExitCode {
    if args.demo && args.common.database_url.is_some() {
        eprintln!("dmarc serve: --demo makes its own database; leave out --database-url");
        return ExitCode::from(2);
    }
    let mut config = match args.common.load("serve") {
        Ok(config) => config,
        Err(code) => return code,
    };
    if let Some(listen) = &args.listen {
        config.listen.clone_from(listen);
    }
    init_logs(config.log_format);
    // The demo's database lives as long as the process.
    let demo_dir = if args.demo {
        match tempfile::tempdir() {
            Ok(dir) => {
                config.database_url =
                    Secret(format!("sqlite://{}", dir.path().join("demo.db").display()));
                Some(dir)
            }
            Err(e) => {
                eprintln!("dmarc serve --demo: cannot create a temporary folder: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    super::runtime().block_on(async move {
        match start(config, demo_dir.is_some()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e:#}");
                eprintln!("dmarc serve: {e:#}");
                ExitCode::from(2)
            }
        }
    })
}

async fn start(config: Config, demo: bool) -> anyhow::Result<()> {
    // Connecting applies pending migrations.
    let store = Store::connect_with(&config.database_url.0, config.limits.query_timeout()).await?;
    let listen = config.listen.clone();
    let demo = if demo {
        Some(dmarc_server::demo::load(&store, config.auth.bcrypt_cost).await?)
    } else {
        None
    };
    let state = AppState::new(store, config).await?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    tracing::info!(address = %listener.local_addr()?, "dmarc API listening");
    let address = listener.local_addr()?;
    println!("dmarc: dashboard at http://{address}/ (API description at http://{address}/docs)");
    if let Some(demo) = demo {
        println!(
            "demo: {} sample reports loaded; log in as {} with password {}\n\
             demo: e.g. curl -s -X POST http://{address}/auth/login -H 'content-type: application/json' \
             -d '{{\"email\":\"{}\",\"password\":\"{}\"}}'",
            demo.reports, demo.email, demo.password, demo.email, demo.password
        );
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut background = state
        .jobs
        .spawn_workers(state.config.jobs.workers, &stopped);
    background.extend(state.jobs.spawn_geo_watch(&stopped));
    if state.config.jobs.scheduler {
        background.push(tokio::spawn(scheduler::run(
            state.jobs.clone(),
            stopped.clone(),
        )));
    }
    serve_until(listener, build_app(state), shutdown::signal()).await?;
    // Workers finish the job in hand (its lease would hand it to another process anyway).
    let _ = stop.send(true);
    for task in background {
        let _ = task.await;
    }
    Ok(())
}
