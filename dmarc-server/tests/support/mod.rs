//! Test support shared by the integration tests (each test crate uses part of it).
#![allow(dead_code)]

pub(crate) mod dovecot;
pub(crate) mod server;
pub(crate) mod smtp;
pub(crate) mod tls;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dmarc_store::{Job, JobState, Store};

/// A report of `dmarc-core/tests/data/regressions/`.
pub(crate) fn regression(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../dmarc-core/tests/data/regressions")
        .join(name)
}

/// The regression file `normal.xml` with report id `id` and the period `begin`..`end`
/// written as given (so any text: far future, milliseconds, fractions).
pub(crate) fn dated_report(id: &str, begin: &str, end: &str) -> String {
    std::fs::read_to_string(regression("normal.xml"))
        .expect("normal.xml")
        .replace(
            "<report_id>a</report_id>",
            &format!("<report_id>{id}</report_id>"),
        )
        .replace(
            "<begin>1700000000</begin><end>1700086399</end>",
            &format!("<begin>{begin}</begin><end>{end}</end>"),
        )
}

/// Queues a job of `kind`, runs `workers` workers until it is in `state` (or `timeout`
/// has passed), stops them, and returns the job as stored.
pub(crate) async fn run_job(
    jobs: &dmarc_server::jobs::Jobs,
    workers: usize,
    kind: dmarc_server::jobs::JobKind,
    state: JobState,
    timeout: Duration,
) -> Job {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = jobs.spawn_workers(workers, &stopped);
    let queued = jobs.enqueue(kind, "test").await.expect("queued");
    let job = wait_for_job(&jobs.store, queued.id, state, timeout).await;
    let _ = stop.send(true);
    for w in running {
        w.await.expect("a worker ends");
    }
    job
}

/// The job once it is in `state`, or as it is after `timeout`.
pub(crate) async fn wait_for_job(
    store: &Store,
    id: i64,
    state: JobState,
    timeout: Duration,
) -> Job {
    let deadline = Instant::now() + timeout;
    loop {
        let job = store
            .job(id)
            .await
            .expect("read the job")
            .expect("the job exists");
        if job.state == state || Instant::now() > deadline {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
