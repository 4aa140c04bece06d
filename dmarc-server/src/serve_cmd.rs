//! `dmarc serve`: the HTTP API.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use dmarc_server::config::{Config, LogFormat, Secret};
use dmarc_server::{AppState, build_app, serve};
use dmarc_store::SqlStore;

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "DMARC_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Overrides `database_url` of the file and `DMARC_DATABASE_URL`.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Overrides `listen`, e.g. `0.0.0.0:8080`.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Start on a fresh SQLite file in a temporary folder with sample reports and an admin
    /// whose password is printed (nothing of it is kept after the process ends).
    #[arg(long, conflicts_with = "database_url")]
    demo: bool,
}

/// Installs the log subscriber: `RUST_LOG` filters (default `info`), text or JSON lines.
fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

pub(crate) fn run(args: &ServeArgs) -> ExitCode {
    let mut config = match Config::load(args.config.as_deref(), std::env::vars()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("dmarc serve: configuration: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(url) = &args.database_url {
        config.database_url = Secret(url.clone());
    }
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
    crate::runtime().block_on(async move {
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
    let store = Arc::new(SqlStore::connect(&config.database_url.0).await?);
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
    println!("dmarc: listening on http://{address}");
    if let Some(demo) = demo {
        println!(
            "demo: {} sample reports loaded; log in as {} with password {}\n\
             demo: e.g. curl -s -X POST http://{address}/auth/login -H 'content-type: application/json' \
             -d '{{\"email\":\"{}\",\"password\":\"{}\"}}'",
            demo.reports, demo.email, demo.password, demo.email, demo.password
        );
    }
    serve(listener, build_app(state)).await?;
    Ok(())
}
