//! The durable job queue: jobs live in the database the reports are in, so they survive
//! restarts and several processes share them.
//!
//! A worker *claims* a job: the claim marks it running, counts the attempt and gives the
//! worker a lease. A worker that finishes reports success or failure; one that dies leaves
//! the lease to expire, and the job is claimed again (or failed, when it has used all its
//! attempts). On PostgreSQL the claim takes the row with `FOR UPDATE SKIP LOCKED`, so two
//! workers never claim the same job; on SQLite writes are serialised anyway. Each slot of a
//! schedule inserts at most one job (a unique index on schedule and slot), so several
//! schedulers fire each slot once.
//!
//! Every time here is UTC milliseconds since the epoch and is passed in by the caller.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::backend::Backend;
use crate::query::{Arg, Sql};
use crate::store::Store;
use crate::types::{Page, Paged};
use crate::{Result, StoreError};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for `run_at` and a worker.
    Queued,
    /// A worker holds it.
    Running,
    /// Done; `result` says what it did.
    Succeeded,
    /// Gave up; `last_error` says why.
    Failed,
}

impl JobState {
    /// Every state.
    pub const ALL: [JobState; 4] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
    ];

    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
        }
    }
}

impl std::str::FromStr for JobState {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s.trim())
            .ok_or_else(|| {
                format!("unknown job state {s:?}: use queued, running, succeeded or failed")
            })
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Identifier (the task id of the API).
    pub id: i64,
    /// What to do: `email-ingestion`, `process-reports`, ...
    pub kind: String,
    /// Arguments of the job.
    pub payload: Value,
    /// Where it is.
    pub state: JobState,
    /// Runs started so far.
    pub attempts: u32,
    /// Runs allowed.
    pub max_attempts: u32,
    /// Not taken before this time.
    pub run_at: i64,
    /// While running: claimed again after this time.
    pub lease_until: Option<i64>,
    /// The worker running it, or the last one that did.
    pub worker: Option<String>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// What it did, once succeeded.
    pub result: Option<Value>,
    /// The schedule that fired it.
    pub schedule: Option<String>,
    /// The schedule slot (fire time) it was fired for.
    pub slot: Option<i64>,
    /// `scheduler`, or who triggered it.
    pub created_by: Option<String>,
    /// When it was queued.
    pub created_at: i64,
    /// When the last attempt started.
    pub started_at: Option<i64>,
    /// When it succeeded or finally failed.
    pub finished_at: Option<i64>,
}

/// A job to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What to do.
    pub kind: String,
    /// Its arguments.
    pub payload: Value,
    /// Runs allowed (at least 1).
    pub max_attempts: u32,
    /// Not before this time.
    pub run_at: i64,
    /// `scheduler`, or who asked for it.
    pub created_by: String,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only jobs of this kind.
    pub kind: Option<String>,
}

/// How many jobs of a kind are in a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCount {
    /// The kind.
    pub kind: String,
    /// The state.
    pub state: JobState,
    /// Jobs.
    pub jobs: u64,
}

const JOB_COLUMNS: &str = "id, kind, payload, state, attempts, max_attempts, run_at, \
    lease_until, worker, last_error, result, schedule, slot, created_by, created_at, \
    started_at, finished_at";

fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

fn job_at(row: &AnyRow) -> Result<Job> {
    let json = |text: Option<String>| -> Result<Option<Value>> {
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("job JSON: {e}")))
        })
        .transpose()
    };
    let state: String = row.try_get("state")?;
    Ok(Job {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        payload: json(Some(row.try_get("payload")?))?.unwrap_or(Value::Null),
        state: state.parse().map_err(StoreError::Corrupt)?,
        attempts: count(row.try_get("attempts")?),
        max_attempts: count(row.try_get("max_attempts")?),
        run_at: row.try_get("run_at")?,
        lease_until: row.try_get("lease_until")?,
        worker: row.try_get("worker")?,
        last_error: row.try_get("last_error")?,
        result: json(row.try_get("result")?)?,
        schedule: row.try_get("schedule")?,
        slot: row.try_get("slot")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

fn insert(job: &NewJob, schedule: Option<(&str, i64)>, now: i64) -> Sql {
    Sql::new(
        "INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_at, schedule, \
         slot, created_by, created_at) VALUES ($1, $2, 'queued', 0, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Arg::Text(job.kind.clone()))
    .bind(Arg::Text(job.payload.to_string()))
    .bind(Arg::Int(i64::from(job.max_attempts.max(1))))
    .bind(Arg::Int(job.run_at))
    .bind(Arg::OptText(schedule.map(|(name, _)| name.to_owned())))
    .bind(Arg::OptInt(schedule.map(|(_, slot)| slot)))
    .bind(Arg::Text(job.created_by.clone()))
    .bind(Arg::Int(now))
}

impl Store {
    async fn one_job(&self, sql: Sql) -> Result<Option<Job>> {
        sql.fetch_all(self.backend(), self.pool())
            .await?
            .first()
            .map(job_at)
            .transpose()
    }

    /// Queues a job.
    pub async fn enqueue(&self, job: &NewJob, now: i64) -> Result<Job> {
        let mut sql = insert(job, None, now);
        sql.push(&format!(" RETURNING {JOB_COLUMNS}"));
        self.one_job(sql)
            .await?
            .ok_or_else(|| StoreError::Corrupt("INSERT returned no row".into()))
    }

    /// Queues a job unless one of the same kind is queued already: that job then, and
    /// `false` (several processes agree: the check and the insert are one transaction,
    /// serialised per kind).
    pub async fn enqueue_once(&self, job: &NewJob, now: i64) -> Result<(Job, bool)> {
        let backend = self.backend();
        let mut tx = self.begin_write().await?;
        if backend == Backend::Postgres {
            Sql::new("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(Arg::Text(format!("dmarc-enqueue:{}", job.kind)))
                .fetch_all(backend, &mut *tx)
                .await?;
        }
        let queued = Sql::new(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE kind = $1 AND state = 'queued' \
             ORDER BY run_at, id LIMIT 1"
        ))
        .bind(Arg::Text(job.kind.clone()))
        .fetch_all(backend, &mut *tx)
        .await?;
        if let Some(row) = queued.first() {
            return Ok((job_at(row)?, false));
        }
        let mut sql = insert(job, None, now);
        sql.push(&format!(" RETURNING {JOB_COLUMNS}"));
        let rows = sql.fetch_all(backend, &mut *tx).await?;
        let created = rows
            .first()
            .map(job_at)
            .transpose()?
            .ok_or_else(|| StoreError::Corrupt("INSERT returned no row".into()))?;
        tx.commit().await?;
        Ok((created, true))
    }

    /// Queues the job of one schedule slot, unless that slot was queued already (by this
    /// or another scheduler): the new job's id, or `None`.
    pub async fn enqueue_slot(
        &self,
        job: &NewJob,
        schedule: &str,
        slot: i64,
        now: i64,
    ) -> Result<Option<i64>> {
        let mut sql = insert(job, Some((schedule, slot)), now);
        sql.push(" ON CONFLICT (schedule, slot) DO NOTHING RETURNING id");
        let rows = sql.fetch_all(self.backend(), self.pool()).await?;
        rows.first().map(|row| Ok(row.try_get("id")?)).transpose()
    }

    /// Claims the next job due at `now` for `worker`, holding it until `now + lease`.
    /// A running job whose lease has expired is due again; one that has used all its
    /// attempts is failed instead.
    pub async fn claim(&self, worker: &str, now: i64, lease: i64) -> Result<Option<Job>> {
        let backend = self.backend();
        Sql::new(
            "UPDATE jobs SET state = 'failed', finished_at = $1, lease_until = NULL, \
             last_error = 'the lease of attempt ' || attempts || ' expired: the process \
             running it stopped' \
             WHERE state = 'running' AND lease_until < $2 AND attempts >= max_attempts",
        )
        .bind(Arg::Int(now))
        .bind(Arg::Int(now))
        .execute(backend, self.pool())
        .await?;
        let lock = match backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        self.one_job(
            Sql::new(&format!(
                "UPDATE jobs SET \
                 last_error = CASE WHEN state = 'running' THEN 'the lease of attempt ' || \
                 attempts || ' expired: the process running it stopped' ELSE last_error END, \
                 state = 'running', attempts = attempts + 1, lease_until = $1, worker = $2, \
                 started_at = $3 \
                 WHERE id = (SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $4) \
                 OR (state = 'running' AND lease_until < $5) ORDER BY run_at, id LIMIT 1{lock}) \
                 RETURNING {JOB_COLUMNS}"
            ))
            .bind(Arg::Int(now.saturating_add(lease)))
            .bind(Arg::Text(worker.to_owned()))
            .bind(Arg::Int(now))
            .bind(Arg::Int(now))
            .bind(Arg::Int(now)),
        )
        .await
    }

    /// Extends the lease of a job `worker` runs; false when it no longer holds it.
    pub async fn renew_lease(&self, id: i64, worker: &str, until: i64) -> Result<bool> {
        let changed = Sql::new(
            "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND worker = $3 AND state = 'running'",
        )
        .bind(Arg::Int(until))
        .bind(Arg::Int(id))
        .bind(Arg::Text(worker.to_owned()))
        .execute(self.backend(), self.pool())
        .await?;
        Ok(changed == 1)
    }

    /// Records success; false when `worker` no longer holds the job (its lease expired and
    /// another worker took it), in which case nothing is written.
    pub async fn complete(&self, id: i64, worker: &str, result: &Value, now: i64) -> Result<bool> {
        let changed = Sql::new(
            "UPDATE jobs SET state = 'succeeded', result = $1, finished_at = $2, \
             lease_until = NULL, last_error = NULL \
             WHERE id = $3 AND worker = $4 AND state = 'running'",
        )
        .bind(Arg::Text(result.to_string()))
        .bind(Arg::Int(now))
        .bind(Arg::Int(id))
        .bind(Arg::Text(worker.to_owned()))
        .execute(self.backend(), self.pool())
        .await?;
        Ok(changed == 1)
    }

    /// Records a failed attempt: queued again for `retry_at`, or failed for good when
    /// `None`. False when `worker` no longer holds the job.
    pub async fn fail(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<bool> {
        let (state, run_at, finished_at) = match retry_at {
            Some(at) => ("queued", Arg::Int(at), Arg::OptInt(None)),
            None => ("failed", Arg::Int(now), Arg::OptInt(Some(now))),
        };
        let changed = Sql::new(
            "UPDATE jobs SET state = $1, last_error = $2, run_at = $3, finished_at = $4, \
             lease_until = NULL WHERE id = $5 AND worker = $6 AND state = 'running'",
        )
        .bind(Arg::Text(state.to_owned()))
        .bind(Arg::Text(error.to_owned()))
        .bind(run_at)
        .bind(finished_at)
        .bind(Arg::Int(id))
        .bind(Arg::Text(worker.to_owned()))
        .execute(self.backend(), self.pool())
        .await?;
        Ok(changed == 1)
    }

    /// One job.
    pub async fn job(&self, id: i64) -> Result<Option<Job>> {
        self.one_job(
            Sql::new(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1")).bind(Arg::Int(id)),
        )
        .await
    }

    /// Brings a job queued for later forward to `now` (someone asked for it now); the job
    /// as it is then. `None` when there is no such job.
    pub async fn run_now(&self, id: i64, now: i64) -> Result<Option<Job>> {
        Sql::new("UPDATE jobs SET run_at = $1 WHERE id = $2 AND state = 'queued' AND run_at > $3")
            .bind(Arg::Int(now))
            .bind(Arg::Int(id))
            .bind(Arg::Int(now))
            .execute(self.backend(), self.pool())
            .await?;
        self.job(id).await
    }

    /// Jobs, newest first.
    pub async fn jobs(&self, filter: &JobFilter, page: Page) -> Result<Paged<Job>> {
        let condition = |sql: &mut Sql| {
            sql.push(" WHERE 1 = 1");
            if let Some(state) = filter.state {
                sql.push(" AND state = ")
                    .arg(Arg::Text(state.as_str().to_owned()));
            }
            if let Some(kind) = &filter.kind {
                sql.push(" AND kind = ").arg(Arg::Text(kind.clone()));
            }
        };
        self.newest_first("jobs", JOB_COLUMNS, condition, page, job_at)
            .await
    }

    /// Jobs per kind and state.
    pub async fn job_counts(&self) -> Result<Vec<JobCount>> {
        Sql::new(
            "SELECT kind, state, COUNT(*) AS jobs FROM jobs GROUP BY kind, state ORDER BY kind, state",
        )
            .fetch_all(self.backend(), self.pool())
            .await?
            .iter()
            .map(|row| {
                let state: String = row.try_get("state")?;
                Ok(JobCount {
                    kind: row.try_get("kind")?,
                    state: state.parse().map_err(StoreError::Corrupt)?,
                    jobs: u64::try_from(row.try_get::<i64, _>("jobs")?).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The last slot each schedule fired.
    pub async fn last_slots(&self) -> Result<Vec<(String, i64)>> {
        Sql::new(
            "SELECT schedule, MAX(slot) AS slot FROM jobs WHERE schedule IS NOT NULL GROUP BY schedule",
        )
        .fetch_all(self.backend(), self.pool())
        .await?
        .iter()
        .map(|row| Ok((row.try_get("schedule")?, row.try_get("slot")?)))
        .collect()
    }

    /// Deletes jobs that finished before `before`; how many.
    pub async fn prune_jobs(&self, before: i64) -> Result<u64> {
        Sql::new("DELETE FROM jobs WHERE state IN ('succeeded', 'failed') AND finished_at < $1")
            .bind(Arg::Int(before))
            .execute(self.backend(), self.pool())
            .await
    }
}
