//! The scheduler: at each slot of a schedule (a cron expression, UTC) it queues one job.
//! The slot's time is the job's key with the schedule's name, and the store keeps one job
//! per key, so several schedulers (one per `dmarc serve` process) fire each slot once.
//! Slots missed while no scheduler ran are not made up; the next slot comes in time.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use croner::Cron;
use serde::Serialize;
use tokio::sync::watch;

use super::{JobKind, Jobs, now_ms};
use crate::config::Config;
use crate::cron::{CronError, parse};

/// Why the schedules of a configuration cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// A schedule names no job kind.
    #[error("no job kind {0}")]
    UnknownKind(String),
    /// A schedule's expression is not cron.
    #[error(transparent)]
    Cron(#[from] CronError),
}

/// One schedule in force.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The kind of job it queues.
    pub kind: JobKind,
    /// The expression, as configured.
    pub expression: String,
    cron: Cron,
}

impl Schedule {
    /// The first slot strictly after `ms` (UTC milliseconds).
    pub fn next_after(&self, ms: i64) -> Option<i64> {
        let at: DateTime<Utc> = Utc.timestamp_millis_opt(ms).single()?;
        self.cron
            .find_next_occurrence(&at, false)
            .ok()
            .map(|next| next.timestamp_millis())
    }
}

/// The schedules of the configuration that are on. E-mail ingestion is off while no
/// mailbox is configured, the purge while `retention.days` is 0, the digest while no
/// SMTP server is configured, and the geolocation refresh while geolocation is off (they
/// would have nothing to do).
pub fn schedules(config: &Config) -> Result<Vec<Schedule>, ScheduleError> {
    let mut out = Vec::new();
    for (name, expression) in config.schedules.all() {
        let kind =
            JobKind::parse(name).ok_or_else(|| ScheduleError::UnknownKind(name.to_owned()))?;
        if kind == JobKind::EmailIngestion && config.mailboxes().next().is_none()
            || kind == JobKind::Purge && config.retention.days == 0
            || kind == JobKind::AlertDigest && config.alerts.address("email").is_none()
            || kind == JobKind::GeoRefresh && !config.geo.enabled
        {
            continue;
        }
        if let Some(cron) = parse(expression)? {
            out.push(Schedule {
                kind,
                expression: expression.trim().to_owned(),
                cron,
            });
        }
    }
    Ok(out)
}

/// A schedule as the API shows it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleInfo {
    /// The kind of job it queues.
    pub kind: &'static str,
    /// The cron expression (UTC).
    pub expression: String,
    /// The next slot, UTC seconds.
    pub next_run: Option<i64>,
    /// The last slot queued (by any scheduler), UTC seconds.
    pub last_run: Option<i64>,
}

/// Every schedule in force with its next and last slot.
pub async fn describe(jobs: &Jobs) -> Result<Vec<ScheduleInfo>, super::JobError> {
    let last = jobs.store.last_slots().await?;
    let now = now_ms();
    Ok(schedules(&jobs.config)?
        .into_iter()
        .map(|s| ScheduleInfo {
            kind: s.kind.as_str(),
            next_run: s.next_after(now).map(|ms| ms.div_euclid(1000)),
            last_run: last
                .iter()
                .find(|(name, _)| name == s.kind.as_str())
                .map(|(_, slot)| slot.div_euclid(1000)),
            expression: s.expression,
        })
        .collect())
}

/// Longest sleep between two looks at the clock.
const MAX_SLEEP_MS: i64 = 30_000;
/// How often finished jobs past their retention are deleted.
const PRUNE_EVERY_MS: i64 = 3_600_000;

/// Queues the job of each due slot until `shutdown` turns true.
pub async fn run(jobs: Jobs, mut shutdown: watch::Receiver<bool>) {
    let schedules = match schedules(&jobs.config) {
        Ok(schedules) => schedules,
        Err(e) => {
            tracing::error!(error = %e, "scheduler not started");
            return;
        }
    };
    let retention = i64::try_from(jobs.config.jobs.retention_days)
        .unwrap_or(i64::MAX / 86_400_000)
        .saturating_mul(86_400_000);
    let start = now_ms();
    let mut next: Vec<Option<i64>> = schedules.iter().map(|s| s.next_after(start)).collect();
    let mut next_prune = start;
    tracing::info!(schedules = schedules.len(), "scheduler started");
    while !*shutdown.borrow() {
        let now = now_ms();
        for (schedule, slot) in schedules.iter().zip(next.iter_mut()) {
            let Some(at) = *slot else { continue };
            if at > now {
                continue;
            }
            fire(&jobs, schedule, at, now).await;
            *slot = schedule.next_after(now);
        }
        if now >= next_prune {
            match jobs.store.prune_jobs(now.saturating_sub(retention)).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "old finished jobs deleted"),
                Err(e) => tracing::warn!(error = %e, "cannot delete old jobs"),
            }
            next_prune = now.saturating_add(PRUNE_EVERY_MS);
        }
        let wake = next.iter().flatten().copied().min().unwrap_or(i64::MAX);
        let sleep = wake.saturating_sub(now_ms()).clamp(1, MAX_SLEEP_MS);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(sleep.unsigned_abs())) => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::info!("scheduler stopped");
}

async fn fire(jobs: &Jobs, schedule: &Schedule, slot: i64, now: i64) {
    let job = jobs.new_job(schedule.kind, "scheduler", slot);
    match jobs
        .store
        .enqueue_slot(&job, schedule.kind.as_str(), slot, now)
        .await
    {
        Ok(Some(id)) => {
            tracing::info!(
                job = id,
                kind = schedule.kind.as_str(),
                slot,
                "scheduled job queued"
            );
            jobs.wake_workers();
        }
        Ok(None) => {
            tracing::debug!(
                kind = schedule.kind.as_str(),
                slot,
                "slot already queued by another scheduler"
            );
        }
        Err(e) => {
            tracing::warn!(kind = schedule.kind.as_str(), slot, error = %e, "cannot queue a scheduled job")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn default_schedules_fire_when_documented() {
        assert!(
            schedules(&Config::default()).unwrap().iter().all(|s| ![
                JobKind::EmailIngestion,
                JobKind::Purge,
                JobKind::AlertDigest
            ]
            .contains(&s.kind)),
            "no mailbox: no e-mail ingestion; no retention: no purge; no SMTP: no digest"
        );
        let mut config = Config::default();
        config.imap.host = "imap.example.com".into();
        config.retention.days = 365;
        config.alerts.smtp_url.0 = "smtp://mail.example.com".into();
        let all = schedules(&config).unwrap();
        assert_eq!(all.len(), 8);
        let find = |kind| all.iter().find(|s| s.kind == kind).unwrap();
        // Saturday 2026-11-28 10:07 UTC.
        let now = ms(2026, 11, 28, 10, 7);
        let email = find(JobKind::EmailIngestion);
        assert_eq!(email.next_after(now), Some(ms(2026, 11, 28, 10, 15)));
        assert_eq!(
            email.next_after(ms(2026, 11, 28, 10, 15)),
            Some(ms(2026, 11, 28, 10, 30)),
            "strictly after"
        );
        assert_eq!(
            find(JobKind::ProcessReports).next_after(now),
            Some(ms(2026, 11, 28, 10, 10))
        );
        assert_eq!(
            find(JobKind::AlertEvaluation).next_after(now),
            Some(ms(2026, 11, 28, 11, 0))
        );
        assert_eq!(
            find(JobKind::MlTraining).next_after(now),
            Some(ms(2026, 11, 29, 2, 0)),
            "Sunday 02:00"
        );
        assert_eq!(
            find(JobKind::AnomalyDetection).next_after(now),
            Some(ms(2026, 11, 29, 3, 0))
        );
        assert_eq!(
            find(JobKind::GeoRefresh).next_after(now),
            Some(ms(2026, 11, 29, 1, 30)),
            "daily at 01:30"
        );
        assert_eq!(
            find(JobKind::Purge).next_after(now),
            Some(ms(2026, 11, 29, 4, 30)),
            "daily 04:30"
        );
        assert_eq!(
            find(JobKind::AlertDigest).next_after(now),
            Some(ms(2026, 11, 30, 6, 0)),
            "Monday 06:00"
        );
    }
}
