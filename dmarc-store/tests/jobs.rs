//! The job queue on SQLite and PostgreSQL (PostgreSQL is skipped with a message when
//! unavailable, a failure when `DMARC_TEST_REQUIRE_SERVICES=1`). Times are passed in, so
//! backoff and lease expiry are tested without waiting.

use std::collections::HashSet;
use std::sync::Arc;

use dmarc_store::testing;
use dmarc_store::{JobFilter, JobState, NewJob, Page, Store};
use serde_json::json;

fn new_job(kind: &str, max_attempts: u32, run_at: i64) -> NewJob {
    NewJob {
        kind: kind.to_owned(),
        payload: json!({ "mailbox": "primary" }),
        max_attempts,
        run_at,
        created_by: "test".to_owned(),
    }
}

#[tokio::test]
async fn failed_attempts_are_retried_until_they_run_out() {
    for (_db, store) in testing::stores().await {
        let job = store
            .enqueue(&new_job("email-ingestion", 3, 1_000), 900)
            .await
            .unwrap();
        assert_eq!(
            (job.state, job.attempts, job.max_attempts),
            (JobState::Queued, 0, 3)
        );
        assert_eq!(job.payload["mailbox"], "primary");
        assert!(
            store.claim("w1", 999, 60_000).await.unwrap().is_none(),
            "not due yet"
        );

        // Attempts 1 and 2 fail and are queued again for their backoff time.
        let mut now = 1_000;
        for attempt in 1..=2 {
            let claimed = store.claim("w1", now, 60_000).await.unwrap().expect("due");
            assert_eq!(claimed.id, job.id);
            assert_eq!(claimed.state, JobState::Running);
            assert_eq!(claimed.attempts, attempt);
            assert_eq!(claimed.lease_until, Some(now + 60_000));
            assert_eq!(claimed.worker.as_deref(), Some("w1"));
            let retry_at = now + 1_000 * (1 << attempt);
            assert!(
                store
                    .fail(
                        job.id,
                        "w1",
                        &format!("boom {attempt}"),
                        Some(retry_at),
                        now + 5
                    )
                    .await
                    .unwrap()
            );
            let queued = store.job(job.id).await.unwrap().unwrap();
            assert_eq!(queued.state, JobState::Queued);
            assert_eq!(queued.run_at, retry_at);
            assert_eq!(
                queued.last_error.as_deref(),
                Some(format!("boom {attempt}").as_str())
            );
            assert!(
                store
                    .claim("w1", retry_at - 1, 60_000)
                    .await
                    .unwrap()
                    .is_none(),
                "backing off"
            );
            now = retry_at;
        }
        // The third attempt fails for good.
        let third = store.claim("w2", now, 60_000).await.unwrap().expect("due");
        assert_eq!(third.attempts, 3);
        assert!(
            !store.complete(job.id, "w1", &json!({}), now).await.unwrap(),
            "w1 lost it"
        );
        assert!(
            store
                .fail(job.id, "w2", "boom 3", None, now + 7)
                .await
                .unwrap()
        );
        let failed = store.job(job.id).await.unwrap().unwrap();
        assert_eq!(failed.state, JobState::Failed);
        assert_eq!(failed.finished_at, Some(now + 7));
        assert_eq!(failed.lease_until, None);
        assert!(
            store
                .claim("w1", now + 1_000_000, 60_000)
                .await
                .unwrap()
                .is_none()
        );

        // A success records its result.
        let ok = store
            .enqueue(&new_job("process-reports", 3, 0), 0)
            .await
            .unwrap();
        store.claim("w1", 10, 1_000).await.unwrap().expect("due");
        assert!(
            store
                .complete(ok.id, "w1", &json!({ "reports": 4 }), 20)
                .await
                .unwrap()
        );
        let done = store.job(ok.id).await.unwrap().unwrap();
        assert_eq!(done.state, JobState::Succeeded);
        assert_eq!(done.result, Some(json!({ "reports": 4 })));
        assert_eq!((done.started_at, done.finished_at), (Some(10), Some(20)));
    }
}

#[tokio::test]
async fn a_job_whose_worker_died_is_taken_again_after_its_lease() {
    for (_db, store) in testing::stores().await {
        let job = store
            .enqueue(&new_job("email-ingestion", 2, 0), 0)
            .await
            .unwrap();
        store.claim("dead", 0, 100).await.unwrap().expect("due");
        assert!(
            store.claim("w2", 100, 100).await.unwrap().is_none(),
            "lease still held"
        );
        assert!(store.renew_lease(job.id, "dead", 150).await.unwrap());
        assert!(
            store.claim("w2", 120, 100).await.unwrap().is_none(),
            "lease renewed"
        );

        let again = store
            .claim("w2", 151, 100)
            .await
            .unwrap()
            .expect("lease expired");
        assert_eq!((again.id, again.attempts), (job.id, 2));
        assert_eq!(again.worker.as_deref(), Some("w2"));
        assert!(
            again
                .last_error
                .as_deref()
                .unwrap()
                .contains("lease of attempt 1 expired"),
            "{:?}",
            again.last_error
        );
        // The first worker wakes up: it no longer holds the job and writes nothing.
        assert!(!store.renew_lease(job.id, "dead", 999).await.unwrap());
        assert!(
            !store
                .complete(job.id, "dead", &json!({}), 160)
                .await
                .unwrap()
        );
        assert!(!store.fail(job.id, "dead", "late", None, 160).await.unwrap());

        // The second worker dies too: no attempt is left, so the job fails.
        assert!(store.claim("w3", 400, 100).await.unwrap().is_none());
        let failed = store.job(job.id).await.unwrap().unwrap();
        assert_eq!(failed.state, JobState::Failed);
        assert_eq!(failed.finished_at, Some(400));
        assert!(
            failed
                .last_error
                .unwrap()
                .contains("lease of attempt 2 expired")
        );
    }
}

#[tokio::test]
async fn each_schedule_slot_is_queued_once() {
    for (_db, store) in testing::stores().await {
        let job = new_job("process-reports", 3, 5_000);
        let first = store
            .enqueue_slot(&job, "process-reports", 5_000, 1)
            .await
            .unwrap();
        assert!(first.is_some());
        let again = store
            .enqueue_slot(&job, "process-reports", 5_000, 2)
            .await
            .unwrap();
        assert_eq!(again, None, "the same slot twice");
        assert!(
            store
                .enqueue_slot(&job, "process-reports", 6_000, 3)
                .await
                .unwrap()
                .is_some()
        );
        let email = new_job("email-ingestion", 3, 5_000);
        assert!(
            store
                .enqueue_slot(&email, "email-ingestion", 5_000, 4)
                .await
                .unwrap()
                .is_some()
        );
        // Jobs queued by hand never collide.
        store.enqueue(&job, 5).await.unwrap();
        store.enqueue(&job, 6).await.unwrap();
        let mut slots = store.last_slots().await.unwrap();
        slots.sort();
        assert_eq!(
            slots,
            vec![
                ("email-ingestion".to_owned(), 5_000),
                ("process-reports".to_owned(), 6_000)
            ]
        );
        let page = store
            .jobs(
                &JobFilter {
                    kind: Some("process-reports".into()),
                    state: Some(JobState::Queued),
                },
                Page::first(2),
            )
            .await
            .unwrap();
        assert_eq!((page.total, page.items.len()), (4, 2));
        assert!(page.items[0].id > page.items[1].id, "newest first");
        let counts = store.job_counts().await.unwrap();
        assert_eq!(counts.len(), 2);
        assert_eq!(counts[1].kind, "process-reports");
        assert_eq!((counts[1].state, counts[1].jobs), (JobState::Queued, 4));
    }
}

#[tokio::test]
async fn finished_jobs_are_pruned() {
    for (_db, store) in testing::stores().await {
        for kind in ["a", "b", "c"] {
            store.enqueue(&new_job(kind, 1, 0), 0).await.unwrap();
        }
        let a = store.claim("w", 10, 100).await.unwrap().unwrap();
        store.complete(a.id, "w", &json!(null), 20).await.unwrap();
        let b = store.claim("w", 30, 100).await.unwrap().unwrap();
        store.fail(b.id, "w", "x", None, 40).await.unwrap();
        assert_eq!(
            store.prune_jobs(30).await.unwrap(),
            1,
            "a finished before 30"
        );
        assert_eq!(store.prune_jobs(1_000).await.unwrap(), 1, "b; c never ran");
        let left = store
            .jobs(&JobFilter::default(), Page::first(10))
            .await
            .unwrap();
        assert_eq!(left.items.len(), 1);
        assert_eq!(left.items[0].kind, "c");
    }
}

/// Workers with a connection pool each (as separate processes would have) claim jobs
/// concurrently: every job runs exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_workers_never_run_the_same_job() {
    for (db, store) in testing::stores().await {
        const JOBS: usize = 300;
        for i in 0..JOBS {
            store
                .enqueue(&new_job(&format!("k{}", i % 3), 3, 0), 0)
                .await
                .unwrap();
        }
        let mut workers = Vec::new();
        for w in 0..4 {
            let url = db.url.clone();
            workers.push(tokio::spawn(async move {
                let store = Arc::new(Store::connect(&url).await.expect("connect"));
                let name = format!("worker-{w}");
                let mut ran = Vec::new();
                while let Some(job) = store.claim(&name, 1, 600_000).await.expect("claim") {
                    assert!(
                        store
                            .complete(job.id, &name, &json!({ "by": name }), 2)
                            .await
                            .expect("complete")
                    );
                    ran.push(job.id);
                }
                ran
            }));
        }
        let mut all = Vec::new();
        let mut busy = 0;
        for worker in workers {
            let ran = worker.await.unwrap();
            busy += usize::from(!ran.is_empty());
            all.extend(ran);
        }
        let distinct: HashSet<i64> = all.iter().copied().collect();
        assert_eq!(all.len(), JOBS, "{:?}", store.backend());
        assert_eq!(distinct.len(), JOBS, "a job ran twice");
        assert!(busy >= 2, "the workers ran concurrently");
        let done = store
            .jobs(
                &JobFilter {
                    state: Some(JobState::Succeeded),
                    ..JobFilter::default()
                },
                Page::first(1),
            )
            .await
            .unwrap();
        assert_eq!(done.total, JOBS as u64);
    }
}

/// A trigger pressed many times at once queues one job: every caller gets the same one.
/// Once it has been taken, the next trigger queues a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn triggers_while_a_job_is_queued_return_that_job() {
    for (_db, store) in testing::stores().await {
        let store = Arc::new(store);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .enqueue_once(&new_job("process-reports", 3, 1_000), 1_000)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut ids = HashSet::new();
        let mut created = 0;
        for task in tasks {
            let (job, new) = task.await.unwrap();
            ids.insert(job.id);
            created += usize::from(new);
        }
        assert_eq!((ids.len(), created), (1, 1));
        // Another kind is separate.
        let (other, new) = store
            .enqueue_once(&new_job("email-ingestion", 3, 1_000), 1_000)
            .await
            .unwrap();
        assert!(new && !ids.contains(&other.id));
        // Taken by a worker, the job no longer absorbs triggers.
        let claimed = store.claim("w", 1_000, 60_000).await.unwrap().expect("due");
        assert!(ids.contains(&claimed.id));
        let (next, new) = store
            .enqueue_once(&new_job("process-reports", 3, 2_000), 2_000)
            .await
            .unwrap();
        assert!(new && next.id != claimed.id);
    }
}
