//! Background work: the kinds of job, what each does, and the workers that run them from
//! the durable queue in the database ([`dmarc_store::Store::claim`]).
//!
//! A worker claims a due job, renews its lease while it runs, and records the result; a
//! failed attempt is queued again after an exponential backoff until the job has used its
//! attempts. A process that dies mid-job leaves a lease that expires, and another worker
//! takes the job again. Jobs must therefore be safe to run twice: ingestion is idempotent
//! (duplicates are recognised), and IMAP messages are moved only after their reports are
//! committed.

pub mod scheduler;

use std::sync::Arc;
use std::time::Duration;

use dmarc_store::{Job, NewJob, Store};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

use crate::config::Config;
use crate::geo::Geo;
use crate::ingest::Ingest;
use crate::metrics::Metrics;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Fetch reports from the configured mailboxes.
    EmailIngestion,
    /// Parse stored inputs that were never parsed.
    ProcessReports,
    /// Evaluate alert rules.
    AlertEvaluation,
    /// Send one alert to one channel.
    AlertDelivery,
    /// E-mail the digest.
    AlertDigest,
    /// Train the anomaly model.
    MlTraining,
    /// Score sources for anomalies.
    AnomalyDetection,
    /// Delete reports past the retention period.
    Purge,
    /// Look up again stale places of source addresses.
    GeoRefresh,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 9] = [
        JobKind::EmailIngestion,
        JobKind::ProcessReports,
        JobKind::AlertEvaluation,
        JobKind::MlTraining,
        JobKind::AnomalyDetection,
        JobKind::Purge,
        JobKind::AlertDelivery,
        JobKind::AlertDigest,
        JobKind::GeoRefresh,
    ];

    /// The stored name (also the schedule's name and the trigger path).
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::EmailIngestion => "email-ingestion",
            JobKind::ProcessReports => "process-reports",
            JobKind::AlertEvaluation => "alert-evaluation",
            JobKind::MlTraining => "ml-training",
            JobKind::AnomalyDetection => "anomaly-detection",
            JobKind::Purge => "purge",
            JobKind::AlertDelivery => crate::alerts::delivery::KIND,
            JobKind::AlertDigest => "alert-digest",
            JobKind::GeoRefresh => "geo-refresh",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// The alert evaluation an ingestion queues after storing new reports.
pub fn evaluation_after_ingest(config: &Config) -> NewJob {
    NewJob {
        kind: JobKind::AlertEvaluation.as_str().to_owned(),
        payload: json!({}),
        max_attempts: config.jobs.max_attempts,
        run_at: 0,
        created_by: "ingest".to_owned(),
    }
}

/// UTC milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Longest wait between two attempts.
const MAX_BACKOFF_MS: u64 = 3_600_000;

/// Wait after failed attempt number `attempt` (from 1): the base, doubled per attempt.
pub fn backoff_ms(base: u64, attempt: u32) -> u64 {
    let doublings = attempt.saturating_sub(1).min(32);
    base.saturating_mul(1 << doublings).min(MAX_BACKOFF_MS)
}

/// What jobs run with; cheap to clone.
#[derive(Debug, Clone)]
pub struct Jobs {
    /// The database (and queue).
    pub store: Store,
    /// The configuration in force.
    pub config: Arc<Config>,
    /// Counters of this process.
    pub metrics: Arc<Metrics>,
    /// Ingestion in this process (uploads and mailbox passes share its slots).
    pub ingest: Ingest,
    /// Wakes this process's idle workers when a job is queued here.
    wake: Arc<Notify>,
    /// The client alert deliveries post webhooks with (none when it could not be made).
    http: Option<reqwest::Client>,
    /// Geolocation (none when off, or when its databases could not be opened: then
    /// `geo_problem` says why).
    geo: Option<Arc<Geo>>,
    geo_problem: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// The job succeeded.
    Succeeded,
    /// It failed and is queued again.
    Retried,
    /// It failed for good.
    Failed,
    /// Another worker holds it now (this one's lease had expired); nothing was recorded.
    Lost,
}

impl RunOutcome {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Retried => "retried",
            RunOutcome::Failed => "failed",
            RunOutcome::Lost => "lost",
        }
    }
}

/// Why a job failed (recorded as the job's error).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The job names no kind this version knows.
    #[error("unknown job kind {0:?}")]
    UnknownKind(String),
    /// A mailbox pass failed.
    #[error(transparent)]
    Imap(#[from] crate::imap::ImapError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] dmarc_store::StoreError),
    /// The configured schedules cannot run.
    #[error(transparent)]
    Schedule(#[from] scheduler::ScheduleError),
    /// The result could not be written as JSON.
    #[error("the result is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The job's task panicked.
    #[error("the job panicked: {0}")]
    Panicked(String),
    /// An alert was not delivered (the queue tries again).
    #[error("not delivered: {0}")]
    Delivery(String),
    /// A geolocation database cannot answer.
    #[error("geolocation: {0}")]
    Geo(String),
    /// Training or detection failed.
    #[error(transparent)]
    Ml(#[from] crate::ml::MlError),
}

impl Jobs {
    /// The context over a store.
    pub fn new(store: Store, config: Arc<Config>, metrics: Arc<Metrics>) -> Jobs {
        let (geo, geo_problem) = match Geo::open(&config.geo) {
            Ok(geo) => (geo, None),
            Err(e) => {
                tracing::error!(error = %e, "geolocation is off: its databases cannot be opened");
                (None, Some(e.0))
            }
        };
        Jobs {
            ingest: Ingest::new(store.clone(), &config.limits, metrics.clone())
                .queue_after_new_reports(evaluation_after_ingest(&config)),
            store,
            config,
            metrics,
            wake: Arc::new(Notify::new()),
            http: crate::alerts::webhooks::client()
                .inspect_err(|e| tracing::error!(error = %e, "no HTTP client for alert webhooks"))
                .ok(),
            geo: None,
            geo_problem,
        }
        .with_geo(geo)
    }

    /// The same, with `geo` as its geolocation (and ingestion's enrichment step).
    #[must_use]
    pub fn with_geo(mut self, geo: Option<Arc<Geo>>) -> Jobs {
        self.ingest = self
            .ingest
            .with_enrich(geo.clone().map(|g| g as Arc<dyn dmarc_store::Enrich>));
        self.geo = geo;
        self
    }

    /// Geolocation, or why there is none (off, or its databases cannot be opened).
    pub fn geo(&self) -> Result<&Arc<Geo>, String> {
        self.geo.as_ref().ok_or_else(|| {
            self.geo_problem.clone().unwrap_or_else(|| {
                "geolocation is not configured: [geo] enabled is false, or no database \
                 is configured and the bundled data is off"
                    .to_owned()
            })
        })
    }

    /// A job of `kind` for now, with the configured attempts.
    pub fn new_job(&self, kind: JobKind, created_by: &str, run_at: i64) -> NewJob {
        NewJob {
            kind: kind.as_str().to_owned(),
            payload: json!({}),
            max_attempts: self.config.jobs.max_attempts,
            run_at,
            created_by: created_by.to_owned(),
        }
    }

    /// Queues a job of `kind` to run now and wakes an idle worker of this process.
    pub async fn enqueue(&self, kind: JobKind, created_by: &str) -> dmarc_store::Result<Job> {
        self.enqueue_with(kind, json!({}), created_by).await
    }

    /// Queues a job of `kind` with `payload` to run now and wakes an idle worker.
    pub async fn enqueue_with(
        &self,
        kind: JobKind,
        payload: Value,
        created_by: &str,
    ) -> dmarc_store::Result<Job> {
        let now = now_ms();
        let job = NewJob {
            payload,
            ..self.new_job(kind, created_by, now)
        };
        let job = self.store.enqueue(&job, now).await?;
        self.wake_workers();
        Ok(job)
    }

    /// Queues a job of `kind` to run now unless one is queued already (a trigger pressed
    /// twice): the job, and whether it is new.
    pub async fn enqueue_once(
        &self,
        kind: JobKind,
        created_by: &str,
    ) -> dmarc_store::Result<(Job, bool)> {
        let now = now_ms();
        let queued = self
            .store
            .enqueue_once(&self.new_job(kind, created_by, now), now)
            .await?;
        self.wake_workers();
        Ok(queued)
    }

    /// Queues the delivery of an alert to a channel, due now.
    async fn enqueue_delivery(
        &self,
        order: &crate::alerts::delivery::Order,
    ) -> dmarc_store::Result<()> {
        let now = now_ms();
        let job = crate::alerts::delivery::job(order, self.config.jobs.max_attempts, now);
        self.store.enqueue(&job, now).await?;
        self.wake_workers();
        Ok(())
    }

    /// The client alert webhooks are posted with, when it could be made.
    pub fn http(&self) -> Option<&reqwest::Client> {
        self.http.as_ref()
    }

    /// Wakes an idle worker of this process (or the next one to go idle).
    pub fn wake_workers(&self) {
        self.wake.notify_one();
    }

    /// Does what `job` says; the result, or why it failed.
    pub async fn execute(&self, job: &Job) -> Result<Value, JobError> {
        let Some(kind) = JobKind::parse(&job.kind) else {
            return Err(JobError::UnknownKind(job.kind.clone()));
        };
        match kind {
            JobKind::EmailIngestion => {
                let summary = crate::imap::fetch_all(&self.ingest, &self.config).await?;
                Ok(serde_json::to_value(summary)?)
            }
            JobKind::ProcessReports => {
                let summary = self.ingest.reprocess(true).await?;
                Ok(serde_json::to_value(summary)?)
            }
            JobKind::Purge => {
                let days = self.config.retention.days;
                if days == 0 {
                    return Ok(json!({ "skipped": "retention.days is 0: everything is kept" }));
                }
                let before = dmarc_store::unix_now() - i64::from(days) * 86_400;
                let summary = self.store.purge(before).await?;
                Ok(serde_json::to_value(summary)?)
            }
            JobKind::AlertEvaluation => {
                let at = dmarc_store::unix_now();
                let (summary, recorded) = crate::alerts::evaluate_all(&self.store, at).await?;
                for (rule, done) in &recorded {
                    for alert in &done.created {
                        for order in crate::alerts::delivery::orders(alert, &rule.channels) {
                            self.enqueue_delivery(&order).await?;
                        }
                    }
                }
                Ok(serde_json::to_value(summary)?)
            }
            JobKind::AlertDelivery => {
                let order: crate::alerts::delivery::Order =
                    serde_json::from_value(job.payload.clone())?;
                let outcome = crate::alerts::delivery::attempt(
                    &self.store,
                    &self.config.alerts,
                    self.http.as_ref(),
                    &order,
                    job.attempts,
                    job.max_attempts,
                    now_ms(),
                )
                .await?;
                // Teams first: the others follow its first attempt, whatever it did.
                if job.attempts == 1 {
                    for channel in &order.then {
                        let next = crate::alerts::delivery::Order {
                            alert_id: order.alert_id,
                            channel: channel.clone(),
                            then: Vec::new(),
                        };
                        self.enqueue_delivery(&next).await?;
                    }
                }
                match outcome.error {
                    Some(error) => Err(JobError::Delivery(error)),
                    None => Ok(outcome.result),
                }
            }
            JobKind::AlertDigest => {
                let alerts = &self.config.alerts;
                let done = crate::alerts::digest::send(
                    &self.store,
                    alerts,
                    dmarc_store::unix_now(),
                    alerts.digest_days,
                    false,
                )
                .await?;
                match done.error {
                    // Refused or unreachable: the queue tries again.
                    Some(error) => Err(JobError::Delivery(error)),
                    None => Ok(json!({ "sent": done.sent, "skipped": done.skipped,
                                       "recipients": done.recipients.len(),
                                       "domains": done.digest.domains.len(),
                                       "open_alerts": done.digest.open_alert_count })),
                }
            }
            JobKind::GeoRefresh => match &self.geo {
                None => Ok(json!({ "skipped": "geolocation is off" })),
                Some(geo) => {
                    if geo.reload_if_changed().map_err(|e| JobError::Geo(e.0))? {
                        tracing::info!("geolocation databases changed: reopened");
                    }
                    let done = geo
                        .refresh(&self.store)
                        .await
                        .map_err(|e| JobError::Geo(e.to_string()))?;
                    Ok(serde_json::to_value(done)?)
                }
            },
            JobKind::MlTraining => {
                let ml = &self.config.ml;
                let request = if job.payload.as_object().is_some_and(|o| o.is_empty()) {
                    // The schedule's: the configuration's settings.
                    crate::ml::TrainRequest {
                        deploy: ml.auto_deploy,
                        ..crate::ml::TrainRequest::default()
                    }
                } else {
                    serde_json::from_value(job.payload.clone())?
                };
                let by = job.created_by.as_deref().unwrap_or("scheduler");
                let model =
                    crate::ml::train(&self.store, ml, &request, dmarc_store::unix_now(), by)
                        .await?;
                Ok(serde_json::to_value(model)?)
            }
            JobKind::AnomalyDetection => {
                let request: crate::ml::DetectRequest =
                    serde_json::from_value(job.payload.clone())?;
                let at = dmarc_store::unix_now();
                match crate::ml::detect(&self.store, &self.config.ml, &request, at).await {
                    Err(crate::ml::MlError::NoModel) => Ok(json!({
                        "skipped": crate::ml::MlError::NoModel.to_string()
                    })),
                    done => Ok(serde_json::to_value(done?)?),
                }
            }
        }
    }

    /// Runs one claimed job to its end: the lease is renewed while it runs, a panic counts
    /// as a failure, and the outcome is recorded (if this worker still holds the job).
    pub async fn run_claimed(&self, worker: &str, job: Job) -> RunOutcome {
        let lease = i64::try_from(self.config.jobs.lease_ms).unwrap_or(i64::MAX);
        let renewer = {
            let (store, worker, id) = (self.store.clone(), worker.to_owned(), job.id);
            let every = Duration::from_millis((self.config.jobs.lease_ms / 3).max(1));
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    match store
                        .renew_lease(id, &worker, now_ms().saturating_add(lease))
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => tracing::warn!(job = id, error = %e, "cannot renew the lease"),
                    }
                }
            })
        };
        let started = std::time::Instant::now();
        let this = self.clone();
        let running = job.clone();
        let result = match tokio::spawn(async move { this.execute(&running).await }).await {
            Ok(result) => result,
            Err(e) => Err(JobError::Panicked(e.to_string())),
        };
        renewer.abort();
        let now = now_ms();
        let recorded = match &result {
            Ok(value) => self
                .store
                .complete(job.id, worker, value, now)
                .await
                .map(|held| (held, RunOutcome::Succeeded)),
            Err(error) => {
                let retry_at = (job.attempts < job.max_attempts).then(|| {
                    let wait = backoff_ms(self.config.jobs.retry_backoff_ms, job.attempts);
                    now.saturating_add(i64::try_from(wait).unwrap_or(i64::MAX))
                });
                let outcome = if retry_at.is_some() {
                    RunOutcome::Retried
                } else {
                    RunOutcome::Failed
                };
                self.store
                    .fail(job.id, worker, &format!("{error:#}"), retry_at, now)
                    .await
                    .map(|held| (held, outcome))
            }
        };
        let outcome = match recorded {
            Ok((true, outcome)) => outcome,
            Ok((false, _)) => RunOutcome::Lost,
            Err(e) => {
                // The lease runs out and another worker takes the job again.
                tracing::error!(job = job.id, error = %e, "cannot record the job's outcome");
                RunOutcome::Lost
            }
        };
        let elapsed = started.elapsed();
        match &result {
            Ok(_) => {
                tracing::info!(job = job.id, kind = %job.kind, attempt = job.attempts, ms = elapsed.as_millis() as u64, outcome = outcome.as_str(), "job done")
            }
            Err(e) => {
                tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempts, ms = elapsed.as_millis() as u64, outcome = outcome.as_str(), error = %format!("{e:#}"), "job failed")
            }
        }
        self.metrics.job_run(&job.kind, outcome.as_str(), elapsed);
        outcome
    }

    /// One worker: claims and runs due jobs until `shutdown` turns true (the job in hand is
    /// finished first).
    pub async fn work(self, name: String, mut shutdown: watch::Receiver<bool>) {
        let lease = i64::try_from(self.config.jobs.lease_ms).unwrap_or(i64::MAX);
        let poll = Duration::from_millis(self.config.jobs.poll_interval_ms);
        tracing::debug!(worker = %name, "worker started");
        while !*shutdown.borrow() {
            match self.store.claim(&name, now_ms(), lease).await {
                Ok(Some(job)) => {
                    self.run_claimed(&name, job).await;
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(worker = %name, error = %e, "cannot claim a job"),
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = self.wake.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::debug!(worker = %name, "worker stopped");
    }

    /// Starts `count` workers named after this host and process.
    pub fn spawn_workers(
        &self,
        count: usize,
        shutdown: &watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".to_owned());
        (0..count)
            .map(|i| {
                let name = format!("{host}:{}:{i}", std::process::id());
                tokio::spawn(self.clone().work(name, shutdown.clone()))
            })
            .collect()
    }

    /// With geolocation on: queues a refresh of the stored places now (reports stored
    /// before geolocation was configured, or by another version, get theirs), then checks
    /// the database files every `geo.watch_seconds` and queues a refresh when one changed.
    pub fn spawn_geo_watch(
        &self,
        shutdown: &watch::Receiver<bool>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let geo = self.geo.clone()?;
        let (jobs, mut shutdown) = (self.clone(), shutdown.clone());
        Some(tokio::spawn(async move {
            let refresh = |jobs: Jobs| async move {
                if let Err(e) = jobs.enqueue_once(JobKind::GeoRefresh, "geo").await {
                    tracing::warn!(error = %e, "cannot queue the geolocation refresh");
                }
            };
            refresh(jobs.clone()).await;
            let every = jobs.config.geo.watch_seconds;
            if every == 0 {
                return;
            }
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(every)) => {}
                    _ = shutdown.changed() => return,
                }
                match geo.reload_if_changed() {
                    Ok(true) => {
                        tracing::info!("a geolocation database changed: reopened");
                        refresh(jobs.clone()).await;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "a changed geolocation database cannot be opened; the previous one stays")
                    }
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff_ms(30_000, 1), 30_000);
        assert_eq!(backoff_ms(30_000, 2), 60_000);
        assert_eq!(backoff_ms(30_000, 3), 120_000);
        assert_eq!(backoff_ms(30_000, 40), 3_600_000);
        assert_eq!(backoff_ms(u64::MAX, 2), 3_600_000);
    }

    #[test]
    fn kinds_round_trip() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobKind::parse("email_ingestion"), None);
    }
}
