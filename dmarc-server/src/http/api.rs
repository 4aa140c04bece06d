//! Reports, domains, upload and rollups (`/api/...`), health and metrics.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dmarc_core::rollup::{
    self, AlignmentBreakdown, DayBucket, DispositionBreakdown, EnforcementImpact, Group,
    PolicyCompliance, SourceGroup, Summary, TrendPoint,
};
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

/// `GET /api/rollup/summary`.
#[utoipa::path(
    get,
    path = "/api/rollup/summary",
    tag = "rollups",
    summary = "Headline figures",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "OK", body = Summary),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "summary",
        &params,
        state.store.summary(&params.filter),
    )
    .await
}

/// `GET /api/rollup/sources`: messages per source address, most first, paginated.
#[utoipa::path(
    get,
    path = "/api/rollup/sources",
    tag = "rollups",
    summary = "Messages per source address, most first",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams, super::query::PageParams),
    responses(
        (status = 200, description = "OK", body = dmarc_store::Paged<SourceGroup>),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn sources(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "sources",
        &params,
        state.store.by_source(&params.filter, params.page),
    )
    .await
}

/// A source address with what it did in the filtered reports.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct SourceDetail {
    /// The address; absent for records without a usable one.
    #[schema(value_type = Option<String>)]
    source_ip: Option<std::net::IpAddr>,
    /// Messages by outcome.
    #[serde(flatten)]
    tally: rollup::Tally,
    /// What the address did; absent for records without an address.
    activity: Option<SourceActivity>,
}

/// What an address did in the filtered reports.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct SourceActivity {
    /// Messages quarantined.
    quarantined: u64,
    /// Messages rejected.
    rejected: u64,
    /// Distinct `header_from` domains it sent as.
    header_from_domains: u64,
    /// Distinct reporting organisations that saw it.
    reporters: u64,
    /// Distinct UTC days on which report periods that include it begin.
    days_active: u64,
    /// Earliest report period start that includes it (UTC seconds).
    first_seen: i64,
    /// Latest report period end that includes it (UTC seconds).
    last_seen: i64,
}

impl From<rollup::SourceActivity> for SourceActivity {
    fn from(a: rollup::SourceActivity) -> Self {
        SourceActivity {
            quarantined: a.quarantined,
            rejected: a.rejected,
            header_from_domains: a.header_from_domains,
            reporters: a.reporters,
            days_active: a.days_active,
            first_seen: a.first_seen,
            last_seen: a.last_seen,
        }
    }
}

/// `GET /api/sources`: a page of source addresses, most messages first, each with its
/// pass rates, first and last seen, reporters and dispositions.
#[utoipa::path(
    get,
    path = "/api/sources",
    tag = "rollups",
    summary = "Source addresses, most messages first, with first and last seen, reporters and dispositions",
    description = "Any role; access token or API key. The ranking comes from the pre-aggregates; the details of the page's addresses from their records.",
    params(super::query::FilterParams, super::query::PageParams),
    responses(
        (status = 200, description = "OK", body = dmarc_store::Paged<SourceDetail>),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn source_details(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    let store = &state.store;
    let compute = async {
        let page = store.by_source(&params.filter, params.page).await?;
        let ips: Vec<_> = page.items.iter().filter_map(|g| g.source_ip).collect();
        let mut activity: std::collections::HashMap<_, _> = store
            .activity_of(&params.filter, &ips)
            .await?
            .into_iter()
            .map(|a| (a.source_ip, a))
            .collect();
        Ok(page.map(|group| SourceDetail {
            source_ip: group.source_ip,
            tally: group.tally,
            activity: group
                .source_ip
                .and_then(|ip| activity.remove(&ip))
                .map(SourceActivity::from),
        }))
    };
    cached(&state, &caller, "source-details", &params, compute).await
}

/// `GET /api/rollup/by-domain`.
#[utoipa::path(
    get,
    path = "/api/rollup/by-domain",
    tag = "rollups",
    summary = "Messages per policy domain",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "OK", body = [Group]),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn by_domain(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "by_domain",
        &params,
        state.store.by_domain(&params.filter),
    )
    .await
}

/// `GET /api/rollup/organizations`.
#[utoipa::path(
    get,
    path = "/api/rollup/organizations",
    tag = "rollups",
    summary = "Messages per reporting organisation",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "OK", body = [Group]),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn organizations(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "organizations",
        &params,
        state.store.by_organization(&params.filter),
    )
    .await
}

/// `GET /api/rollup/disposition`.
#[utoipa::path(
    get,
    path = "/api/rollup/disposition",
    tag = "rollups",
    summary = "Messages by applied disposition",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "OK", body = DispositionBreakdown),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn disposition(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "disposition",
        &params,
        state.store.disposition_breakdown(&params.filter),
    )
    .await
}

/// `GET /api/rollup/alignment`.
#[utoipa::path(
    get,
    path = "/api/rollup/alignment",
    tag = "rollups",
    summary = "Messages by aligned DKIM x aligned SPF",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "OK", body = AlignmentBreakdown),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn alignment(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "alignment",
        &params,
        state.store.alignment_breakdown(&params.filter),
    )
    .await
}

/// `GET /api/rollup/compliance`.
#[utoipa::path(
    get,
    path = "/api/rollup/compliance",
    tag = "rollups",
    summary = "DMARC compliance and the treatment of failures",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "OK", body = PolicyCompliance),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn compliance(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "compliance",
        &params,
        state.store.policy_compliance(&params.filter),
    )
    .await
}

/// `GET /api/rollup/enforcement`.
#[utoipa::path(
    get,
    path = "/api/rollup/enforcement",
    tag = "rollups",
    summary = "Per domain: failing messages delivered (what p=reject would stop), their source addresses, and the policy in force",
    description = "Any role; access token or API key. Most failing delivered messages first.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "OK", body = [EnforcementImpact]),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn enforcement(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "enforcement",
        &params,
        state.store.enforcement_impact(&params.filter),
    )
    .await
}

/// `GET /api/rollup/timeline`.
#[utoipa::path(
    get,
    path = "/api/rollup/timeline",
    tag = "rollups",
    summary = "Messages per day, week or month of the selected period (bucket=auto keeps it to about 400 points; every bucket when the period spans at most ten years, else those with messages)",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams, super::query::BucketParams),
    responses(
        (status = 200, description = "OK", body = [DayBucket]),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(&state, &caller, "timeline", &params, async {
        let days = state.store.timeline(&params.filter).await?;
        Ok(rollup::in_buckets(&days, &params.filter, params.bucket).0)
    })
    .await
}

/// `GET /api/rollup/failure-trend`: daily failure rate and its `window`-day average.
#[utoipa::path(
    get,
    path = "/api/rollup/failure-trend",
    tag = "rollups",
    summary = "Failure rate per day, week or month, with a moving average over `window` points",
    description = "Any role; access token or API key.",
    params(
        super::query::FilterParams,
        super::query::WindowParams,
        super::query::BucketParams
    ),
    responses(
        (status = 200, description = "OK", body = [TrendPoint]),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn failure_trend(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(&state, &caller, "failure_trend", &params, async {
        let days = state.store.timeline(&params.filter).await?;
        let (points, bucket) = rollup::in_buckets(&days, &params.filter, params.bucket);
        Ok(rollup::trend_over_buckets(&points, bucket, params.window))
    })
    .await
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

/// Answers from the cache when it holds this rollup's answer for these parameters in the
/// current data generation; otherwise computes the answer, keeps it and answers it.
async fn cached<T: Serialize>(
    state: &AppState,
    caller: &Caller,
    rollup: &str,
    params: &Params,
    compute: impl std::future::Future<Output = Result<T, dmarc_store::StoreError>>,
) -> ApiResult<Response> {
    let json = |body: Bytes| ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    let slot = if state.cache.enabled() {
        let generation = state.store.data_generation().await?;
        let key = format!("{rollup} {params:?}");
        if let Some(body) = state.cache.get(generation, &key) {
            state.metrics.cache(true);
            return Ok(json(body));
        }
        // Requests missing the same answer meanwhile wait for this one, then find it.
        let place = state.cache.flight(&key).await;
        if let Some(body) = state.cache.get(generation, &key) {
            state.metrics.cache(true);
            return Ok(json(body));
        }
        state.metrics.cache(false);
        Some((generation, key, place))
    } else {
        None
    };
    // Only a computed answer takes one of the caller's expensive-read slots.
    let heavy = Heavy::enter(state, caller.clone())?;
    let value = compute.await?;
    drop(heavy);
    let body = Bytes::from(serde_json::to_vec(&value).map_err(|e| ApiError::internal(&e))?);
    if let Some((generation, key, place)) = slot {
        state.cache.put(generation, key, body.clone());
        drop(place);
    }
    Ok(json(body))
}
