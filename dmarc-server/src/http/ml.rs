//! Anomaly detection over HTTP: models (list, train, deploy) and anomalies (detect, the
//! recent predictions with their explanations). Training and detection run as jobs: the
//! answer is the task to follow. Every change is audited.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use dmarc_core::GeoInfo;
use dmarc_store::{Page, Paged, Prediction, PredictionFilter, Role, StoredModel};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, ChangeErrors, ErrorBody};
use super::query::{
    DEFAULT_PAGE, TIME, bad, page_only, page_parameter, pairs, timestamp, unknown_parameter,
};
use super::tasks::Task;
use crate::jobs::JobKind;
use crate::ml::{DetectRequest, TrainRequest};

/// `GET /analytics/ml/models` (any role).
#[utoipa::path(
    get,
    path = "/analytics/ml/models",
    tag = "anomalies",
    summary = "Trained models, newest first: version, parameters, training window, feature statistics, metrics, which one is deployed",
    description = "Any role; access token or API key.",
    params(super::query::PageParams),
    responses(
        (status = 200, description = "OK", body = Paged<StoredModel>),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn models(
    State(state): State<AppState>,
    _caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Paged<StoredModel>>> {
    let page = page_only(query.as_deref().unwrap_or(""), DEFAULT_PAGE)?;
    Ok(Json(state.store.models(page).await?))
}

/// `POST /analytics/ml/train` (admin).
#[utoipa::path(
    post,
    path = "/analytics/ml/train",
    tag = "anomalies",
    summary = "Train a model on the sources' activity of the last days (a job: follow the task; its result is the model)",
    description = "Admin; access token or API key. Absent fields take the configuration's values ([ml]).",
    request_body = TrainRequest,
    responses(
        (status = 202, description = "Queued", body = Task),
        ChangeErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn train(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<TrainRequest>,
) -> ApiResult<(StatusCode, Json<Task>)> {
    caller.require(Role::Admin)?;
    request
        .resolve(&state.config.ml)
        .map_err(ApiError::bad_request)?;
    queue(&state, &caller, JobKind::MlTraining, &request, "ml.train").await
}

/// Queues a job of `kind` with `request` as its payload, audited as `action`: 202 with the
/// task to follow.
async fn queue(
    state: &AppState,
    caller: &Caller,
    kind: JobKind,
    request: &impl Serialize,
    action: &str,
) -> ApiResult<(StatusCode, Json<Task>)> {
    let payload = serde_json::to_value(request).map_err(|e| ApiError::internal(&e))?;
    let job = state
        .jobs
        .enqueue_with(kind, payload.clone(), &caller.actor())
        .await?;
    state
        .audit(caller.audit(action, Some(job.id.to_string()), payload))
        .await;
    Ok((StatusCode::ACCEPTED, Json(Task::from(job))))
}

/// `POST /analytics/ml/deploy` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// The model's version.
    pub version: i64,
}

/// `POST /analytics/ml/deploy` (admin).
#[utoipa::path(
    post,
    path = "/analytics/ml/deploy",
    tag = "anomalies",
    summary = "Deploy a model: detection uses it from now on (the previous one is no longer active)",
    description = "Admin; access token or API key.",
    request_body = DeployRequest,
    responses(
        (status = 200, description = "The deployed model", body = StoredModel),
        (status = 404, description = "No such item", body = ErrorBody),
        ChangeErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn deploy(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<DeployRequest>,
) -> ApiResult<Json<StoredModel>> {
    caller.require(Role::Admin)?;
    let model = state
        .store
        .deploy_model(request.version, dmarc_store::unix_now())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no model of version {}", request.version)))?;
    state
        .audit(caller.audit(
            "ml.deploy",
            Some(model.version.to_string()),
            json!({ "id": model.id }),
        ))
        .await;
    Ok(Json(model))
}

/// `POST /analytics/anomalies/detect` (analyst).
#[utoipa::path(
    post,
    path = "/analytics/anomalies/detect",
    tag = "anomalies",
    summary = "Score the sources of the last days with the deployed model (a job: follow the task; the predictions go to /analytics/anomalies/recent)",
    description = "Analyst or admin; access token or API key. 409 when no model is deployed.",
    request_body = DetectRequest,
    responses(
        (status = 202, description = "Queued", body = Task),
        (status = 409, description = "No model is deployed", body = ErrorBody),
        ChangeErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn detect(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<DetectRequest>,
) -> ApiResult<(StatusCode, Json<Task>)> {
    caller.require(Role::Analyst)?;
    request
        .resolve(&state.config.ml)
        .map_err(ApiError::bad_request)?;
    if state.store.active_model().await?.is_none() {
        return Err(ApiError::conflict(crate::ml::MlError::NoModel.to_string()));
    }
    queue(
        &state,
        &caller,
        JobKind::AnomalyDetection,
        &request,
        "anomaly.detect",
    )
    .await
}

/// The parameters of `GET /analytics/anomalies/recent` as the OpenAPI description shows
/// them.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecentParams {
    /// Runs over one domain's sources (without it: runs over every domain).
    pub domain: Option<String>,
    /// Every run since (YYYY-MM-DD, RFC 3339 or epoch seconds); without it, the latest run.
    pub since: Option<String>,
    /// Scores at least this (0-1).
    pub min_score: Option<f64>,
    /// `true`: anomalous sources only.
    pub anomalous: Option<bool>,
    /// One source address.
    pub source_ip: Option<String>,
    /// Items per page (1-1000).
    pub limit: Option<u32>,
    /// Items to skip.
    pub offset: Option<u64>,
}

fn recent_query(query: &str) -> ApiResult<(PredictionFilter, Page)> {
    let mut filter = PredictionFilter::default();
    let mut page = Page::first(DEFAULT_PAGE);
    for (name, value) in pairs(query)? {
        let value = value.trim();
        match name.as_str() {
            "domain" => filter.domain = Some(value.to_ascii_lowercase()),
            "since" => {
                filter.since = Some(timestamp(value, false).ok_or_else(|| bad(&name, value, TIME))?)
            }
            "min_score" => {
                filter.min_score = Some(
                    value
                        .parse::<f64>()
                        .ok()
                        .filter(|s| (0.0..=1.0).contains(s))
                        .ok_or_else(|| bad(&name, value, "a number from 0 to 1"))?,
                );
            }
            "anomalous" => {
                filter.anomalous_only = value
                    .parse()
                    .map_err(|_| bad(&name, value, "true or false"))?;
            }
            "source_ip" => {
                filter.source_ip = Some(
                    value
                        .parse::<IpAddr>()
                        .map_err(|_| bad(&name, value, "an IP address"))?,
                );
            }
            "limit" | "offset" => page_parameter(&mut page, &name, value)?,
            other => {
                return Err(unknown_parameter(
                    other,
                    "domain, since, min_score, anomalous, source_ip, limit, offset",
                ));
            }
        }
    }
    Ok((filter, page))
}

/// A prediction with where its source is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Anomaly {
    /// The prediction.
    #[serde(flatten)]
    pub prediction: Prediction,
    /// Where the source is and its network, when geolocation placed it.
    pub location: Option<GeoInfo>,
}

/// `GET /analytics/anomalies/recent` (any role).
#[utoipa::path(
    get,
    path = "/analytics/anomalies/recent",
    tag = "anomalies",
    summary = "Scored sources of the latest detection (or of every run since a time), highest score first, with the features that drove each score",
    description = "Any role; access token or API key.",
    params(RecentParams),
    responses(
        (status = 200, description = "OK", body = Paged<Anomaly>),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn recent(
    State(state): State<AppState>,
    _caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Paged<Anomaly>>> {
    let (filter, page) = recent_query(query.as_deref().unwrap_or(""))?;
    let found = state.store.predictions(&filter, page).await?;
    let ips: Vec<IpAddr> = found
        .items
        .iter()
        .filter_map(|p| p.source_ip.parse().ok())
        .collect();
    let mut places = state.store.places(&ips).await?;
    Ok(Json(found.map(|prediction| {
        Anomaly {
            location: prediction
                .source_ip
                .parse()
                .ok()
                .and_then(|ip| places.remove(&ip))
                .map(|p| p.info),
            prediction,
        }
    })))
}
