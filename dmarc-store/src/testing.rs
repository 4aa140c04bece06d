//! Test support (feature `testing`): a fresh database per test on each backend.
//!
//! - SQLite: a file in a temporary folder.
//! - PostgreSQL: a new database on the server named by `DMARC_TEST_POSTGRES_URL`, or else on
//!   a throwaway cluster this process starts once (`initdb` + `pg_ctl` from the PostgreSQL
//!   binaries, as the `postgres` user when running as root; fsync off). A watcher process
//!   stops the cluster and deletes its folder when the test process exits.
//!
//! Without PostgreSQL, [`postgres`] returns `None` and the caller prints that the test was
//! skipped; with `DMARC_TEST_REQUIRE_SERVICES=1` it panics instead, so CI never skips.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

/// A database for one test; SQLite files are deleted when it is dropped.
#[derive(Debug)]
pub struct TestDb {
    /// The URL to connect to.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh SQLite database file.
pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite://{}", dir.path().join("dmarc.db").display());
    TestDb {
        url,
        _dir: Some(dir),
    }
}

/// The reports a store keeps from `reports` ingested in order: the first of each duplicate
/// key (identity and period) and of each XML digest (dmarc-format.md 3.6).
pub fn distinct(reports: &[dmarc_core::Report]) -> Vec<dmarc_core::Report> {
    let mut keys = std::collections::HashSet::new();
    let mut digests = std::collections::HashSet::new();
    let mut out = Vec::new();
    for report in reports {
        let range = report.report_metadata.date_range;
        let key = (report.identity(), range.begin, range.end);
        if digests.contains(&report.xml_sha256) || keys.contains(&key) {
            continue;
        }
        digests.insert(report.xml_sha256.clone());
        keys.insert(key);
        out.push(report.clone());
    }
    out
}

/// A fresh database on each backend: SQLite, and PostgreSQL unless it is unavailable (see
/// [`postgres`]).
pub async fn databases() -> Vec<TestDb> {
    let mut dbs = vec![sqlite()];
    dbs.extend(postgres().await);
    dbs
}

/// A connected store over each of [`databases`].
pub async fn stores() -> Vec<(TestDb, crate::Store)> {
    let mut out = Vec::new();
    for db in databases().await {
        let store = crate::Store::connect(&db.url)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", db.url));
        out.push((db, store));
    }
    out
}

/// True when CI demands that service-backed tests run.
pub fn services_required() -> bool {
    std::env::var("DMARC_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// A fresh, empty PostgreSQL database, or `None` (after printing why) when no server is
/// available. Panics instead when `DMARC_TEST_REQUIRE_SERVICES=1`.
pub async fn postgres() -> Option<TestDb> {
    let server = match postgres_server() {
        Ok(url) => url,
        Err(why) => {
            assert!(
                !services_required(),
                "DMARC_TEST_REQUIRE_SERVICES=1 but PostgreSQL is unavailable: {why}"
            );
            eprintln!("skipped: PostgreSQL tests need a server ({why})");
            return None;
        }
    };
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "dmarc_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("connect to {server}: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    let _ = admin.close().await;
    let base = server
        .rsplit_once('/')
        .map_or(server.as_str(), |(base, _)| base);
    Some(TestDb {
        url: format!("{base}/{name}"),
        _dir: None,
    })
}

/// The URL of a PostgreSQL server's maintenance database (`.../postgres`).
pub fn postgres_server() -> Result<String, String> {
    if let Ok(url) = std::env::var("DMARC_TEST_POSTGRES_URL") {
        return Ok(url);
    }
    static CLUSTER: OnceLock<Result<String, String>> = OnceLock::new();
    CLUSTER.get_or_init(start_cluster).clone()
}

fn postgres_bin() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("DMARC_TEST_POSTGRES_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root.
fn pg_command(bin: &Path, tool: &str, root: bool) -> Command {
    let program = bin.join(tool);
    if root {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn start_cluster() -> Result<String, String> {
    let bin = postgres_bin().ok_or("no PostgreSQL binaries under /usr/lib/postgresql")?;
    let root = is_root();
    let dir = tempfile::Builder::new()
        .prefix("dmarc-pg-")
        .tempdir()
        .map_err(|e| format!("temporary folder: {e}"))?
        .keep();
    let data = dir.join("data");
    if root {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        if !status.success() {
            return Err("chown to the postgres user failed".into());
        }
    }
    let run = |mut cmd: Command, what: &str| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let mut initdb = pg_command(&bin, "initdb", root);
    initdb.arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "-A",
        "trust",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    ]);
    run(initdb, "initdb")?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("free port: {e}"))?
        .port();
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=300",
        dir.display()
    );
    let mut start = pg_command(&bin, "pg_ctl", root);
    start
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("server.log"))
        .args(["-w", "-t", "60", "-o", &options, "start"]);
    run(start, "pg_ctl start")?;
    // Stop the cluster and remove it once this process is gone.
    let stop = format!(
        "{}{} -D {} -m immediate stop",
        if root { "runuser -u postgres -- " } else { "" },
        bin.join("pg_ctl").display(),
        data.display()
    );
    let watcher = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    Command::new("sh")
        .arg("-c")
        .arg(watcher)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("watcher: {e}"))?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}
