//! Reports, domains and upload (`/api/...`), health and metrics.

use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dmarc_core::{Error as ParseError, ErrorKind};
use dmarc_store::{
    DomainInfo, Input, Outcome, OutcomeTally, Paged, ReportSummary, Role, StoredReport,
};
use serde::Serialize;
use serde_json::json;

use super::auth::Caller;
use super::error::{AdminErrors, ApiError, ApiResult, ErrorBody, ReadErrors};
use super::query::{Params, RecordPage};
use super::{AppState, Heavy};
use crate::config::LimitsConfig;

/// Longest file name kept from an upload.
const MAX_NAME: usize = 200;

/// `GET /api/domains`.
#[utoipa::path(
    get,
    path = "/api/domains",
    tag = "reports",
    summary = "Policy domains with report and message counts",
    description = "Any role; access token or API key.",
    responses(
        (status = 200, description = "OK", body = [DomainInfo]),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn domains(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<Vec<DomainInfo>>> {
    Ok(Json(state.store.domains().await?))
}

/// `GET /api/reports`: newest period first; the common filters, `limit`, `offset`.
#[utoipa::path(
    get,
    path = "/api/reports",
    tag = "reports",
    summary = "Reports, newest period first",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams, super::query::PageParams),
    responses(
        (status = 200, description = "OK", body = dmarc_store::Paged<ReportSummary>),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn reports(
    State(state): State<AppState>,
    _heavy: Heavy,
    params: Params,
) -> ApiResult<Json<Paged<ReportSummary>>> {
    Ok(Json(
        state.store.reports(&params.filter, params.page).await?,
    ))
}

/// `GET /api/reports/{id}`: the report with its diagnostics and a page of its records
/// (`limit`, default 1000, and `offset`).
#[utoipa::path(
    get,
    path = "/api/reports/{id}",
    tag = "reports",
    summary = "One report with its diagnostics and a page of its records (limit, default 1000, and offset)",
    description = "Any role; access token or API key.",
    params(("id" = i64, Path, description = "The item's id"), super::query::PageParams),
    responses(
        (status = 200, description = "OK", body = StoredReport),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 404, description = "No such item", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 429, description = "Rate limited, or too many expensive requests of this user at once; see Retry-After", body = ErrorBody),
        (status = 503, description = "The query ran longer than the time limit and was stopped", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn report(
    State(state): State<AppState>,
    _heavy: Heavy,
    Path(id): Path<i64>,
    RecordPage(page): RecordPage,
) -> ApiResult<Json<StoredReport>> {
    state
        .store
        .report(id, page)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no report {id}")))
}

/// `GET /api/reports/{id}/input` (analyst): the input the report came from, byte for byte
/// as received (a file, an upload or an e-mail message), as a download.
#[utoipa::path(
    get,
    path = "/api/reports/{id}/input",
    tag = "reports",
    summary = "The input a report came from, as received (a download)",
    description = "Analyst or admin; access token or API key. `X-Dmarc-Truncated: true` when only the head of an oversized input was kept.",
    params(("id" = i64, Path, description = "The item's id")),
    responses(
        (status = 200, description = "The bytes as received", body = String, content_type = "application/octet-stream"),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 403, description = "The caller's role (or an API key) may not do this", body = ErrorBody),
        (status = 404, description = "No such item", body = ErrorBody),
        (status = 429, description = "Rate limited, or too many expensive requests of this user at once; see Retry-After", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn report_input(
    State(state): State<AppState>,
    heavy: Heavy,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    heavy.caller.require(Role::Analyst)?;
    let input = state
        .store
        .report_input(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no report {id}")))?;
    state
        .audit(
            heavy
                .caller
                .audit("report.download", Some(id.to_string()), json!({})),
        )
        .await;
    let disposition = format!("attachment; filename=\"{}\"", download_name(&input.name));
    let truncated = if input.truncated { "true" } else { "false" };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::HeaderName::from_static("x-dmarc-truncated"),
                truncated.to_owned(),
            ),
        ],
        input.bytes,
    )
        .into_response())
}

/// A stored input's name as a download's file name: [`clean_name`] with what a quoted
/// header value or a file system may not hold replaced by `_`.
fn download_name(name: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '@');
    clean_name(Some(name), 0)
        .chars()
        .map(|c| if safe(c) { c } else { '_' })
        .collect()
}

/// One uploaded file's outcomes.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct FileOutcome {
    file: String,
    size: u64,
    /// One per report payload found in the file.
    outcomes: Vec<Outcome>,
}

/// Totals of an upload.
#[derive(utoipa::ToSchema, Debug, Default, Serialize)]
pub struct UploadSummary {
    files: usize,
    #[serde(flatten)]
    outcomes: OutcomeTally,
}

/// `POST /api/upload` body (multipart).
#[derive(Debug, utoipa::ToSchema)]
pub struct UploadForm {
    /// The report files (XML, gzip, zip, e-mail or mbox), 1 to `upload_max_files`.
    #[schema(value_type = Vec<String>, format = Binary)]
    pub files: Vec<Vec<u8>>,
}

/// `POST /api/upload` answer.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct UploadResult {
    files: Vec<FileOutcome>,
    summary: UploadSummary,
}

/// A file name as shown: the last path component, printable, at most `MAX_NAME` characters.
fn clean_name(name: Option<&str>, index: usize) -> String {
    let base = name
        .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n))
        .unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME)
        .collect();
    if clean.trim().is_empty() {
        format!("upload-{}", index + 1)
    } else {
        clean
    }
}

/// `POST /api/upload` (analyst): multipart, field `files`, 1 to `upload_max_files` files.
/// Every file gets its outcomes; a file over the size limit is rejected alone. Files are
/// ingested one by one as they arrive, so the request holds one file at a time.
#[utoipa::path(
    post,
    path = "/api/upload",
    tag = "reports",
    summary = "Upload 1 to 200 report files (multipart field `files`): one outcome per report found",
    description = "Analyst or admin; access token or API key.",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "OK", body = UploadResult),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 403, description = "The caller's role (or an API key) may not do this", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 413, description = "The body is larger than its limit", body = ErrorBody),
        (status = 429, description = "Rate limited, or too many expensive requests of this user at once; see Retry-After", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    multipart: Multipart,
) -> ApiResult<Json<UploadResult>> {
    caller.require(Role::Analyst)?;
    let limits = &state.config.limits;
    state
        .limiter
        .check(
            &format!("upload:{}", caller.user.id),
            limits.uploads_per_minute,
        )
        .map_err(ApiError::rate_limited)?;
    let (sender, inputs) = tokio::sync::mpsc::channel::<Input>(1);
    let mut files: Vec<FileOutcome> = Vec::new();
    let (read, stored) = tokio::join!(
        read_files(multipart, limits, sender),
        state
            .jobs
            .ingest
            .run(inputs, |done| files.push(FileOutcome {
                file: done.name,
                size: done.size,
                outcomes: done.outcomes,
            })),
    );
    stored?;
    if let Err(e) = read {
        let kept = match files.len() {
            0 => String::new(),
            n => format!(" ({n} file(s) before it were processed; sending them again is safe)"),
        };
        return Err(ApiError {
            message: format!("{}{kept}", e.message),
            ..e
        });
    }
    let mut summary = UploadSummary {
        files: files.len(),
        outcomes: OutcomeTally::default(),
    };
    for outcome in files.iter().flat_map(|f| &f.outcomes) {
        summary.outcomes.add(outcome);
    }
    state
        .audit(caller.audit(
            "upload",
            None,
            json!({
                "files": summary.files,
                "accepted": summary.outcomes.accepted,
                "duplicate": summary.outcomes.duplicate,
                "rejected": summary.outcomes.rejected,
            }),
        ))
        .await;
    Ok(Json(UploadResult { files, summary }))
}

/// Reads the files of an upload one at a time and hands each to the ingestion; an
/// oversized file is read to its end (the next file follows it) but not kept.
async fn read_files(
    mut multipart: Multipart,
    limits: &LimitsConfig,
    sender: tokio::sync::mpsc::Sender<Input>,
) -> ApiResult<()> {
    let mut count = 0usize;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e))?
    {
        if field.name() != Some("files") {
            let shown: String = field.name().unwrap_or("").chars().take(64).collect();
            return Err(ApiError::bad_request(format!(
                "unexpected form field {shown:?}; send the reports as `files`"
            )));
        }
        if count == limits.upload_max_files {
            return Err(ApiError::too_large(format!(
                "at most {} files per upload",
                limits.upload_max_files
            )));
        }
        let name = clean_name(field.file_name(), count);
        count += 1;
        let mut bytes = Vec::new();
        let mut too_large = false;
        while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
            too_large |= bytes.len() + chunk.len() > limits.upload_max_file_bytes;
            if too_large {
                bytes = Vec::new();
            } else {
                bytes.extend_from_slice(&chunk);
            }
        }
        let bytes = if too_large {
            Err(ParseError::new(
                ErrorKind::LimitExceeded,
                format!(
                    "file larger than the upload limit of {} bytes",
                    limits.upload_max_file_bytes
                ),
            ))
        } else {
            Ok(bytes)
        };
        if sender.send(Input { name, bytes }).await.is_err() {
            // The ingestion stopped (a database error); it answers for itself.
            return Ok(());
        }
    }
    if count == 0 {
        return Err(ApiError::bad_request(
            "no files: send the reports as multipart field `files`",
        ));
    }
    Ok(())
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(format!(
            "the upload is larger than the request limit: {}",
            e.body_text()
        ))
    } else {
        ApiError::bad_request(format!("malformed multipart body: {}", e.body_text()))
    }
}

/// `GET /health`: 200 when the database answers, else 503. No data, no auth (for load
/// balancers and orchestrators).
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    summary = "200 when the database answers, else 503",
    description = "No authentication.",
    responses(
        (status = 200, description = "OK", body = Health),
        (status = 503, description = "The database does not answer", body = Health),
    ),
)]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                database: "ok",
            }),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable",
                    database: "unavailable",
                }),
            )
        }
    }
}

/// `GET /health` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// `ok` or `unavailable`.
    pub database: &'static str,
}

/// `GET /metrics` (admin, or an admin's API key): Prometheus text.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    description = "Admin; access token or an admin's API key.",
    responses(
        (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
        AdminErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn metrics(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    let jobs = state.store.job_counts().await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&jobs),
    )
        .into_response())
}
