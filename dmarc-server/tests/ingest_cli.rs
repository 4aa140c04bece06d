//! `dmarc ingest` end to end: the real binary, real SQLite files and a real PostgreSQL
//! (see `dmarc_store::testing`).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dmarc_benches::{Container, Generator};
use dmarc_core::{Filter, ParseOptions, Report};
use dmarc_store::testing;
use dmarc_store::{Page, Store, connect};
use serde_json::Value;

fn dmarc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dmarc"))
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dmarc-core/tests/data/corpus")
}

fn ingest(url: &str, paths: &[&Path]) -> Output {
    dmarc()
        .args(["ingest", "--format", "json", "--database-url", url])
        .args(paths)
        .output()
        .expect("run dmarc ingest")
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

fn summary(output: &Output) -> Value {
    lines(output).pop().expect("summary line")["summary"].clone()
}

fn statuses(output: &Output) -> Vec<String> {
    lines(output)
        .iter()
        .filter_map(|l| l["outcome"].as_str().map(str::to_owned))
        .collect()
}

fn parse_tree(dir: &Path) -> Vec<Report> {
    let mut files: Vec<PathBuf> = walk(dir);
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            let bytes = std::fs::read(f).expect("read");
            dmarc_core::parse_input(&bytes, &ParseOptions::at(dmarc_store::unix_now()))
        })
        .filter_map(|p| p.result.ok())
        .collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            out.push(path);
        }
    }
    out
}

/// Checks that no report is partial: the records and rollup rows stored for each report
/// add up to what its row says.
async fn assert_whole(store: &Store) {
    let totals = store.totals().await.expect("totals");
    let reports = store
        .reports(&Filter::default(), Page::first(Page::MAX_LIMIT))
        .await
        .expect("reports");
    assert_eq!(reports.total, totals.reports);
    let records: u64 = reports.items.iter().map(|r| r.records).sum();
    let messages: u64 = reports.items.iter().map(|r| r.messages).sum();
    assert_eq!(
        records, totals.records,
        "records table matches every report row"
    );
    assert_eq!(messages, totals.messages);
    let rolled = store.summary(&Filter::default()).await.expect("summary");
    assert_eq!(
        rolled.tally.messages, totals.messages,
        "rollup rows match too"
    );
    // The summary counts reports with records (those without any are listed all the same).
    let with_records = reports.items.iter().filter(|r| r.records > 0).count();
    assert_eq!(rolled.reports as usize, with_records);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_once_then_all_duplicates() {
    let expected = testing::distinct(&parse_tree(&corpus()));
    let messages: u64 = expected.iter().map(Report::message_count).sum();
    let records: usize = expected.iter().map(|r| r.records.len()).sum();
    for db in testing::databases().await {
        let first = ingest(&db.url, &[&corpus()]);
        assert_eq!(first.status.code(), Some(1), "the corpus holds non-reports");
        let s = summary(&first);
        assert_eq!(
            s["accepted"].as_u64(),
            Some(expected.len() as u64),
            "{}",
            db.url
        );
        assert_eq!(s["messages"].as_u64(), Some(messages));
        assert_eq!(s["records"].as_u64(), Some(records as u64));
        let store = connect(&db.url).await.expect("connect");
        let totals = store.totals().await.expect("totals");
        assert_eq!(
            (totals.reports, totals.messages),
            (expected.len() as u64, messages)
        );
        assert_whole(&store).await;
        // Every rejection names the input and a cause.
        for line in lines(&first) {
            if line["outcome"] == "rejected" {
                assert!(line["source"].as_str().is_some_and(|s| !s.is_empty()));
                assert!(line["error"]["kind"].is_string() && line["error"]["message"].is_string());
            }
        }

        let again = ingest(&db.url, &[&corpus()]);
        let s = summary(&again);
        assert_eq!(s["accepted"].as_u64(), Some(0));
        assert_eq!(
            s["duplicate"].as_u64(),
            Some(parse_tree(&corpus()).len() as u64),
            "every report found again is a duplicate"
        );
        assert_eq!(
            store.totals().await.expect("totals"),
            totals,
            "nothing new stored"
        );
    }
}

/// Writes `reports` generated reports of about `records` rows each into `dir`, each in
/// its reporter's usual container.
fn generate(dir: &Path, seed: u64, reports: usize, records: usize) -> Vec<Report> {
    let mut parsed = Vec::new();
    for (i, report) in Generator::new(seed)
        .batch(reports, 5, 1_700_006_400, reports * records)
        .into_iter()
        .enumerate()
    {
        let container = report.reporter.usual_container();
        let path = dir.join(format!("{i:05}-{}", report.file_name(container)));
        std::fs::write(&path, report.container(container)).expect("write");
        parsed.push(
            dmarc_core::parse_input(
                report.xml.as_bytes(),
                &ParseOptions::at(dmarc_store::unix_now()),
            )
            .remove(0)
            .result
            .expect("generated reports parse"),
        );
    }
    parsed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_report_in_every_container_is_one_report() {
    let dir = tempfile::tempdir().expect("dir");
    let report = Generator::new(21).report(
        dmarc_benches::Reporter::Microsoft,
        "example.com",
        1_700_000_000,
        8,
    );
    for container in [
        Container::Xml,
        Container::Gzip,
        Container::Zip,
        Container::Eml,
    ] {
        std::fs::write(
            dir.path().join(report.file_name(container)),
            report.container(container),
        )
        .expect("write");
    }
    for db in testing::databases().await {
        let out = ingest(&db.url, &[dir.path()]);
        assert_eq!(out.status.code(), Some(0));
        let mut got = statuses(&out);
        got.sort();
        assert_eq!(got, ["accepted", "duplicate", "duplicate", "duplicate"]);
        let s = summary(&out);
        assert_eq!(s["messages"].as_u64(), Some(report.messages));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_batch_then_rerun_gives_exact_totals() {
    let dir = tempfile::tempdir().expect("dir");
    let expected = testing::distinct(&generate(dir.path(), 31, 200, 100));
    let records: u64 = expected.iter().map(|r| r.records.len() as u64).sum();
    let messages: u64 = expected.iter().map(Report::message_count).sum();
    for db in testing::databases().await {
        let store = connect(&db.url).await.expect("connect");
        let mut child = dmarc()
            .args([
                "ingest",
                "--batch-records",
                "1000",
                "--database-url",
                &db.url,
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn");
        // Kill it once some, but not all, reports are committed.
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = 0;
        while Instant::now() < deadline && seen == 0 {
            assert!(
                child.try_wait().expect("wait").is_none(),
                "dmarc ingest ended before the kill"
            );
            seen = store.totals().await.expect("totals").reports;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let after_kill = store.totals().await.expect("totals").reports;
        assert!(
            seen > 0 && after_kill < expected.len() as u64,
            "killed mid-run ({after_kill} of {})",
            expected.len()
        );
        assert_whole(&store).await;

        let rerun = ingest(&db.url, &[dir.path()]);
        assert_eq!(
            rerun.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&rerun.stderr)
        );
        let totals = store.totals().await.expect("totals");
        assert_eq!(
            (totals.reports, totals.records, totals.messages),
            (expected.len() as u64, records, messages)
        );
        assert_whole(&store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_postgres_store_each_report_once() {
    let Some(db) = testing::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let expected = testing::distinct(&generate(dir.path(), 41, 240, 60));
    // Two overlapping selections: the first two thirds and the last two thirds.
    let mut files = walk(dir.path());
    files.sort();
    let third = files.len() / 3;
    let (a, b) = (&files[..2 * third], &files[third..]);
    // Start both, then wait for both.
    let spawn = |files: &[PathBuf]| {
        dmarc()
            .args(["ingest", "--format", "json", "--database-url", &db.url])
            .args(files)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    // The first run creates the schema; start the racers after it exists.
    connect(&db.url).await.expect("migrate");
    let (first, second) = (spawn(a), spawn(b));
    let (first, second) = (
        first.wait_with_output().expect("first"),
        second.wait_with_output().expect("second"),
    );
    for out in [&first, &second] {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let accepted = summary(&first)["accepted"].as_u64().unwrap_or(0)
        + summary(&second)["accepted"].as_u64().unwrap_or(0);
    assert_eq!(
        accepted,
        expected.len() as u64,
        "each report accepted by exactly one process"
    );
    let store = connect(&db.url).await.expect("connect");
    let totals = store.totals().await.expect("totals");
    assert_eq!(totals.reports, expected.len() as u64);
    assert_eq!(
        totals.records,
        expected.iter().map(|r| r.records.len() as u64).sum::<u64>()
    );
    assert_whole(&store).await;
}

#[test]
fn bad_usage_and_unreachable_database_exit_2() {
    let missing = dmarc()
        .args([
            "ingest",
            "--database-url",
            "sqlite:///nonexistent-dir/x.db",
            "/definitely/missing",
        ])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such file"));
    let bad_url = dmarc()
        .args(["ingest", "--database-url", "mysql://u:hunter2@h/db"])
        .arg(corpus().join("aggregate"))
        .output()
        .expect("run");
    assert_eq!(bad_url.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad_url.stderr);
    assert!(
        stderr.contains("unsupported database URL") && !stderr.contains("hunter2"),
        "{stderr}"
    );
}

/// Reports dated in the far future (read as milliseconds: year 285 billion), in the year
/// 5138, and in milliseconds that make a plausible time, through `dmarc ingest`: the future
/// ones are rejected with the reason, the millisecond one is repaired, and the stored data
/// answers with small timelines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn future_periods_are_rejected_and_millisecond_ones_repaired() {
    let dir = tempfile::tempdir().expect("dir");
    let dated = |id: &str, begin: &str, end: &str| {
        let path = dir.path().join(format!("{id}.xml"));
        std::fs::write(&path, support::dated_report(id, begin, end)).expect("write");
        path
    };
    let files = [
        support::regression("normal.xml"),
        support::regression("huge9e18.xml"),
        dated("y5138", "99999000000", "99999086400"),
        dated("ms", "1700100000000", "1700186399000"),
    ];
    let db = testing::sqlite();
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = ingest(&db.url, &paths);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a rejected input makes exit status 1"
    );
    assert_eq!(
        statuses(&out),
        ["accepted", "rejected", "rejected", "accepted"]
    );
    let reasons: Vec<String> = lines(&out)
        .iter()
        .filter_map(|l| l["error"]["kind"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(reasons, ["invalid_date_range", "invalid_date_range"]);
    let store = connect(&db.url).await.expect("connect");
    let days = store.timeline(&Filter::default()).await.expect("timeline");
    assert!(days.len() <= 3, "{days:?}");
    let period = store
        .reports(&Filter::default(), Page::first(10))
        .await
        .expect("reports");
    let ms = period
        .items
        .iter()
        .find(|r| r.report_id == "ms")
        .expect("the millisecond report");
    assert_eq!((ms.begin, ms.end), (1_700_100_000, 1_700_186_399));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_deletes_reports_that_ended_before_the_cutoff() {
    let dir = tempfile::tempdir().expect("dir");
    let now = dmarc_store::unix_now();
    let today = now - now.rem_euclid(86_400);
    let mut generator = Generator::new(17);
    // Reports of 2023 (from `generate`) and three of the last days.
    generate(dir.path(), 3, 12, 20);
    for day in 1..=3 {
        let report = generator.report(
            dmarc_benches::Reporter::Yahoo,
            "example.com",
            today - day * 86_400,
            10,
        );
        std::fs::write(
            dir.path().join(format!("recent-{day}.xml.gz")),
            report.container(Container::Gzip),
        )
        .expect("write");
    }
    for db in testing::databases().await {
        assert_eq!(ingest(&db.url, &[dir.path()]).status.code(), Some(0));
        let out = dmarc()
            .args(["purge", "--older-than", "30", "--database-url", &db.url])
            .output()
            .expect("run dmarc purge");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("purged 12 reports"), "{text}");
        let store = connect(&db.url).await.expect("connect");
        let totals = store.totals().await.expect("totals");
        assert_eq!(
            (totals.reports, totals.payloads, totals.records),
            (3, 3, 30)
        );
        let refused = dmarc()
            .args(["purge", "--older-than", "0", "--database-url", &db.url])
            .output()
            .expect("run dmarc purge");
        assert_eq!(
            refused.status.code(),
            Some(2),
            "0 days would delete everything"
        );
    }
}
