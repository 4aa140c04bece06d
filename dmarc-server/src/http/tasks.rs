//! Background tasks (`/tasks/...`): trigger a job, follow it, list recent jobs and the
//! schedules. Times are UTC seconds, like the rest of the API.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use dmarc_store::{Job, JobFilter, JobState, Page, Paged, Role};
use serde::Serialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::Caller;
use super::error::{AdminErrors, ApiError, ApiResult, ErrorBody};
use super::query::{DEFAULT_PAGE, page_parameter, pairs};
use crate::jobs::JobKind;
use crate::jobs::scheduler::{self, ScheduleInfo};

/// A job as the API shows it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    /// The id to follow it with.
    pub task_id: i64,
    /// What it does.
    pub kind: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub state: JobState,
    /// Runs started.
    pub attempts: u32,
    /// Runs allowed.
    pub max_attempts: u32,
    /// What it did (when succeeded).
    pub result: Option<Value>,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// `scheduler`, or who triggered it.
    pub created_by: Option<String>,
    /// When it was queued.
    pub created_at: i64,
    /// Not run before.
    pub run_at: i64,
    /// When the last attempt started.
    pub started_at: Option<i64>,
    /// When it succeeded or finally failed.
    pub finished_at: Option<i64>,
    /// The worker running it (or that ran it last).
    pub worker: Option<String>,
}

fn seconds(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

impl From<Job> for Task {
    fn from(job: Job) -> Task {
        Task {
            task_id: job.id,
            kind: job.kind,
            state: job.state,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            result: job.result,
            error: job.last_error,
            created_by: job.created_by,
            created_at: seconds(job.created_at),
            run_at: seconds(job.run_at),
            started_at: job.started_at.map(seconds),
            finished_at: job.finished_at.map(seconds),
            worker: job.worker,
        }
    }
}

async fn trigger(
    state: &AppState,
    caller: &Caller,
    kind: JobKind,
) -> ApiResult<(StatusCode, Json<Task>)> {
    caller.require(Role::Analyst)?;
    if kind == JobKind::EmailIngestion && state.config.mailboxes().next().is_none() {
        return Err(ApiError::conflict(
            "no mailbox is configured: set [imap] in the configuration file or DMARC_IMAP_HOST, DMARC_IMAP_USER and DMARC_IMAP_PASSWORD",
        ));
    }
    // A trigger while the same kind is queued answers that job instead of queuing more,
    // brought forward to now if it was queued for later (after new reports).
    let (mut job, created) = state.jobs.enqueue_once(kind, &caller.actor()).await?;
    if !created {
        job = state
            .store
            .run_now(job.id, crate::jobs::now_ms())
            .await?
            .unwrap_or(job);
    }
    state
        .audit(caller.audit(
            "task.trigger",
            Some(job.id.to_string()),
            json!({ "kind": kind.as_str(), "queued_already": !created }),
        ))
        .await;
    Ok((StatusCode::ACCEPTED, Json(Task::from(job))))
}

/// `POST /tasks/trigger/email-ingestion` (analyst): fetch the mailboxes now.
#[utoipa::path(
    post,
    path = "/tasks/trigger/email-ingestion",
    tag = "tasks",
    summary = "Queue a fetch of the configured mailboxes now, or answer the one queued already (409 when none is configured)",
    description = "Analyst or admin; access token or API key.",
    responses(
        (status = 202, description = "OK", body = Task),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 403, description = "The caller's role (or an API key) may not do this", body = ErrorBody),
        (status = 409, description = "Conflicts with what is stored", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn trigger_email_ingestion(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<(StatusCode, Json<Task>)> {
    trigger(&state, &caller, JobKind::EmailIngestion).await
}

/// `POST /tasks/trigger/process-reports` (analyst): parse stored, unparsed inputs now.
#[utoipa::path(
    post,
    path = "/tasks/trigger/process-reports",
    tag = "tasks",
    summary = "Queue the parsing of stored, pending inputs now, or answer the job queued already",
    description = "Analyst or admin; access token or API key.",
    responses(
        (status = 202, description = "OK", body = Task),
        AdminErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn trigger_process_reports(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<(StatusCode, Json<Task>)> {
    trigger(&state, &caller, JobKind::ProcessReports).await
}

/// `POST /tasks/trigger/alert-evaluation` (analyst): evaluate the alert rules now.
#[utoipa::path(
    post,
    path = "/tasks/trigger/alert-evaluation",
    tag = "tasks",
    summary = "Queue an evaluation of the enabled alert rules now, or answer the one queued already",
    description = "Analyst or admin; access token or API key.",
    responses(
        (status = 202, description = "OK", body = Task),
        AdminErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn trigger_alert_evaluation(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<(StatusCode, Json<Task>)> {
    trigger(&state, &caller, JobKind::AlertEvaluation).await
}

/// `GET /tasks/status/{task_id}` (any role).
#[utoipa::path(
    get,
    path = "/tasks/status/{id}",
    tag = "tasks",
    summary = "A job's state, attempts, and result or error",
    description = "Any role; access token or API key.",
    params(("id" = i64, Path, description = "The item's id")),
    responses(
        (status = 200, description = "OK", body = Task),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 404, description = "No such item", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn status(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Task>> {
    state
        .store
        .job(id)
        .await?
        .map(|job| Json(Task::from(job)))
        .ok_or_else(|| ApiError::not_found(format!("no task {id}")))
}

/// `state`, `kind`, `limit` and `offset` of `GET /tasks`.
/// The parameters of `GET /tasks` as the OpenAPI description shows them (read by
/// `task_query`).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskParams {
    /// Job state: queued, running, succeeded or failed.
    pub state: Option<JobState>,
    /// Job kind: email-ingestion, process-reports, alert-evaluation, alert-delivery,
    /// alert-digest, ml-training, anomaly-detection or purge.
    pub kind: Option<String>,
    /// Items per page (1-1000).
    pub limit: Option<u32>,
    /// Items to skip.
    pub offset: Option<u64>,
}

fn task_query(query: &str) -> ApiResult<(JobFilter, Page)> {
    let pairs = pairs(query)?;
    let mut filter = JobFilter::default();
    let mut page = Page::first(DEFAULT_PAGE);
    for (name, value) in pairs {
        let value = value.trim();
        match name.as_str() {
            "state" => filter.state = Some(value.parse().map_err(ApiError::bad_request)?),
            "kind" => {
                let kind = JobKind::parse(value).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "kind={value:?}: expected one of {}",
                        JobKind::ALL.map(JobKind::as_str).join(", ")
                    ))
                })?;
                filter.kind = Some(kind.as_str().to_owned());
            }
            "limit" | "offset" => page_parameter(&mut page, &name, value)?,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {other:?}: /tasks takes state, kind, limit and offset"
                )));
            }
        }
    }
    Ok((filter, page))
}

/// `GET /tasks` (any role): recent jobs, newest first.
#[utoipa::path(
    get,
    path = "/tasks",
    tag = "tasks",
    summary = "Recent background jobs, newest first",
    description = "Any role; access token or API key.",
    params(TaskParams),
    responses(
        (status = 200, description = "OK", body = dmarc_store::Paged<Task>),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Paged<Task>>> {
    let (filter, page) = task_query(query.as_deref().unwrap_or(""))?;
    Ok(Json(state.store.jobs(&filter, page).await?.map(Task::from)))
}

/// `GET /tasks/schedules` (any role): every schedule with its next and last run.
#[utoipa::path(
    get,
    path = "/tasks/schedules",
    tag = "tasks",
    summary = "The schedules (cron, UTC) with their next and last run",
    description = "Any role; access token or API key.",
    responses(
        (status = 200, description = "OK", body = [crate::jobs::scheduler::ScheduleInfo]),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn schedules(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<Vec<ScheduleInfo>>> {
    Ok(Json(scheduler::describe(&state.jobs).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_queries_are_checked() {
        let (filter, page) =
            task_query("state=failed&kind=email-ingestion&limit=5&offset=10").unwrap();
        assert_eq!(filter.state, Some(JobState::Failed));
        assert_eq!(filter.kind.as_deref(), Some("email-ingestion"));
        assert_eq!((page.limit, page.offset), (5, 10));
        for bad in [
            "state=done",
            "kind=mail",
            "limit=0",
            "limit=x",
            "domain=example.com",
        ] {
            assert!(task_query(bad).is_err(), "{bad}");
        }
    }
}
