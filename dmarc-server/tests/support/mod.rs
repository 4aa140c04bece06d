//! Test support shared by the integration tests (each test crate uses part of it).
#![allow(dead_code)]

pub(crate) mod dovecot;
pub(crate) mod server;

use std::time::{Duration, Instant};

use dmarc_store::{Job, JobState, SqlStore};

/// The job once it is in `state`, or as it is after `timeout`.
pub(crate) async fn wait_for_job(
    store: &SqlStore,
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
