//! Workers and schedulers of the server over real databases: two schedulers fire each slot
//! once, on SQLite and PostgreSQL (skipped with a message when PostgreSQL is unavailable,
//! a failure when `DMARC_TEST_REQUIRE_SERVICES=1`); a worker runs a triggered job.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dmarc_server::config::{Config, SchedulesConfig};
use dmarc_server::jobs::{JobKind, Jobs, scheduler};
use dmarc_server::metrics::Metrics;
use dmarc_store::testing;
use dmarc_store::{JobFilter, JobState, Page, Store};

mod support;

/// How long a triggered job may take here.
const WAIT: Duration = Duration::from_secs(20);

async fn jobs_on(url: &str, config: Config) -> Jobs {
    let store = Store::connect(url).await.expect("connect");
    Jobs::new(store, Arc::new(config), Arc::new(Metrics::default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_schedulers_fire_each_slot_once() {
    for db in testing::databases().await {
        let config = Config {
            schedules: SchedulesConfig {
                process_reports: "* * * * * *".into(),
                email_ingestion: String::new(),
                alert_evaluation: String::new(),
                ml_training: String::new(),
                anomaly_detection: String::new(),
                purge: String::new(),
                alert_digest: String::new(),
                geo_refresh: String::new(),
            },
            ..Config::default()
        };
        // Two processes' worth: separate connection pools.
        let a = jobs_on(&db.url, config.clone()).await;
        let b = jobs_on(&db.url, config).await;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let runs = [
            tokio::spawn(scheduler::run(a.clone(), stopped.clone())),
            tokio::spawn(scheduler::run(b, stopped)),
        ];
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        let _ = stop.send(true);
        for run in runs {
            run.await.unwrap();
        }
        let jobs = a
            .store
            .jobs(&JobFilter::default(), Page::first(100))
            .await
            .unwrap();
        let mut per_slot: HashMap<i64, usize> = HashMap::new();
        for job in &jobs.items {
            assert_eq!(job.kind, "process-reports");
            assert_eq!(job.created_by.as_deref(), Some("scheduler"));
            let slot = job.slot.expect("a scheduled job has its slot");
            assert_eq!(slot % 1000, 0, "slots are whole seconds");
            assert_eq!(job.run_at, slot);
            *per_slot.entry(slot).or_default() += 1;
        }
        assert!(per_slot.len() >= 3, "{} slots in 3.5 s", per_slot.len());
        assert!(per_slot.values().all(|n| *n == 1), "{per_slot:?}");
        let schedules = scheduler::describe(&a).await.unwrap();
        assert_eq!(schedules.len(), 1);
        assert_eq!(
            schedules[0].last_run,
            per_slot.keys().max().map(|ms| ms / 1000)
        );
        assert!(schedules[0].next_run > schedules[0].last_run);
    }
}

#[tokio::test]
async fn a_worker_runs_a_triggered_job() {
    let db = testing::sqlite();
    let mut config = Config::default();
    config.jobs.poll_interval_ms = 50;
    let jobs = jobs_on(&db.url, config).await;
    // Something to process: a raw input stored without parsing.
    let xml = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../dmarc-core/tests/data/corpus/aggregate/dmarcrua__0afe822aaa48402b8f6cf763e9396405.xml",
    ))
    .unwrap();
    jobs.store.store_pending("pending.xml", &xml).await.unwrap();
    assert_eq!(jobs.store.totals().await.unwrap().pending, 1);

    let job = support::run_job(&jobs, 2, JobKind::ProcessReports, JobState::Succeeded, WAIT).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert_eq!(job.attempts, 1);
    let totals = jobs.store.totals().await.unwrap();
    assert_eq!((totals.pending, totals.reports), (0, 1));
    assert_eq!(
        job.result.unwrap()["accepted"],
        1,
        "the result says what was done"
    );
    let metrics = jobs.metrics.render(&[]);
    assert!(
        metrics.contains("dmarc_job_runs_total{kind=\"process-reports\",outcome=\"succeeded\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_purge_job_keeps_retention_days_of_reports() {
    let db = testing::sqlite();
    let mut config = Config::default();
    config.jobs.poll_interval_ms = 50;
    config.retention.days = 30;
    let jobs = jobs_on(&db.url, config).await;
    let now = dmarc_store::unix_now();
    let today = now - now.rem_euclid(86_400);
    let mut generator = dmarc_benches::Generator::new(5);
    let options = dmarc_core::ParseOptions::at(now);
    // One report from 40 days ago, one from yesterday.
    for (i, begin) in [today - 40 * 86_400, today - 86_400]
        .into_iter()
        .enumerate()
    {
        let report = generator.report(dmarc_benches::Reporter::Google, "example.com", begin, 5);
        let prepared = dmarc_store::prepare(format!("r{i}.xml"), report.xml.as_bytes(), &options);
        jobs.store.ingest(&[prepared]).await.unwrap();
    }
    let job = support::run_job(&jobs, 1, JobKind::Purge, JobState::Succeeded, WAIT).await;
    let result = job.result.expect("a result");
    assert_eq!(
        (result["reports"].as_u64(), result["payloads"].as_u64()),
        (Some(1), Some(1)),
        "{result}"
    );
    let totals = jobs.store.totals().await.unwrap();
    assert_eq!((totals.reports, totals.payloads), (1, 1));
    let schedules = scheduler::describe(&jobs).await.unwrap();
    assert!(
        schedules
            .iter()
            .any(|s| s.kind == "purge" && s.expression == "30 4 * * *")
    );
}
