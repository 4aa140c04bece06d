//! `/alerts/...`: rules (admin manages, everyone reads), the history of alerts with their
//! lifecycle (analysts acknowledge and resolve), and suppression windows (analysts). Every
//! change is audited.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use dmarc_store::{
    Alert, AlertFilter, AlertRule, AlertState, AlertStats, Delivery, NewSuppression, Page, Paged,
    Role, Suppression,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::error::{AdminErrors, ApiError, ApiResult, ChangeErrors, ErrorBody};
use super::query::{DEFAULT_PAGE, TIME, bad, page_parameter, pairs, timestamp, unknown_parameter};
use super::{AppState, now};
use crate::alerts::{RuleRequest, SEVERITIES};

fn admin(caller: &Caller) -> ApiResult<()> {
    caller.require(Role::Admin)
}

/// `GET /alerts/rules` (any role).
#[utoipa::path(
    get,
    path = "/alerts/rules",
    tag = "alerts",
    summary = "The alert rules",
    description = "Any role; access token or API key.",
    responses(
        (status = 200, description = "OK", body = [AlertRule]),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn rules(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<Vec<AlertRule>>> {
    Ok(Json(state.store.alert_rules().await?))
}

/// `POST /alerts/rules` (admin).
#[utoipa::path(
    post,
    path = "/alerts/rules",
    tag = "alerts",
    summary = "Create an alert rule",
    description = "Admin; access token or API key.",
    request_body = RuleRequest,
    responses(
        (status = 201, description = "Created", body = AlertRule),
        (status = 409, description = "A rule with this name exists", body = ErrorBody),
        ChangeErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn create_rule(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<RuleRequest>,
) -> ApiResult<(StatusCode, Json<AlertRule>)> {
    admin(&caller)?;
    let settings = request.settings().map_err(ApiError::bad_request)?;
    let rule = state
        .store
        .create_alert_rule(&settings, &caller.actor())
        .await?;
    state
        .audit(caller.audit(
            "alert_rule.create",
            Some(rule.id.to_string()),
            json!({ "name": rule.name, "kind": rule.kind }),
        ))
        .await;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// `PATCH /alerts/rules/{id}` body: the fields to change.
#[derive(utoipa::ToSchema, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulePatch {
    name: Option<String>,
    kind: Option<String>,
    /// A domain, or null for every domain.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    domain: Option<Option<String>>,
    severity: Option<String>,
    #[schema(value_type = Option<Object>)]
    params: Option<Value>,
    cooldown_minutes: Option<i64>,
    auto_resolve_minutes: Option<i64>,
    channels: Option<Vec<String>>,
    enabled: Option<bool>,
}

/// A field that is present (`Some`, its value possibly null) or absent (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PATCH /alerts/rules/{id}` (admin).
#[utoipa::path(
    patch,
    path = "/alerts/rules/{id}",
    tag = "alerts",
    summary = "Change an alert rule (the fields given)",
    description = "Admin; access token or API key.",
    params(("id" = i64, Path, description = "The item's id")),
    request_body = RulePatch,
    responses(
        (status = 200, description = "OK", body = AlertRule),
        (status = 404, description = "No such item", body = ErrorBody),
        (status = 409, description = "A rule with this name exists", body = ErrorBody),
        ChangeErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn update_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(patch): Json<RulePatch>,
) -> ApiResult<Json<AlertRule>> {
    admin(&caller)?;
    let not_found = || ApiError::not_found(format!("no alert rule {id}"));
    let rule = state.store.alert_rule(id).await?.ok_or_else(not_found)?;
    let request = RuleRequest {
        name: patch.name.unwrap_or(rule.name),
        kind: patch.kind.unwrap_or(rule.kind),
        domain: patch.domain.unwrap_or(rule.domain),
        severity: patch.severity.unwrap_or(rule.severity),
        params: patch.params.unwrap_or(rule.params),
        cooldown_minutes: patch.cooldown_minutes.unwrap_or(rule.cooldown_minutes),
        auto_resolve_minutes: patch
            .auto_resolve_minutes
            .unwrap_or(rule.auto_resolve_minutes),
        channels: patch.channels.unwrap_or(rule.channels),
        enabled: patch.enabled.unwrap_or(rule.enabled),
    };
    let settings = request.settings().map_err(ApiError::bad_request)?;
    let updated = state
        .store
        .update_alert_rule(id, &settings)
        .await?
        .ok_or_else(not_found)?;
    state
        .audit(caller.audit(
            "alert_rule.update",
            Some(id.to_string()),
            json!({ "name": updated.name, "enabled": updated.enabled }),
        ))
        .await;
    Ok(Json(updated))
}

/// `DELETE /alerts/rules/{id}` (admin): its alerts stay in the history.
#[utoipa::path(
    delete,
    path = "/alerts/rules/{id}",
    tag = "alerts",
    summary = "Delete an alert rule (its alerts stay in the history)",
    description = "Admin; access token or API key.",
    params(("id" = i64, Path, description = "The item's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such item", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        AdminErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn delete_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    admin(&caller)?;
    if !state.store.delete_alert_rule(id).await? {
        return Err(ApiError::not_found(format!("no alert rule {id}")));
    }
    state
        .audit(caller.audit("alert_rule.delete", Some(id.to_string()), json!({})))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The parameters of `GET /alerts/history` as the OpenAPI description shows them.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// created, acknowledged, resolved or suppressed.
    pub state: Option<AlertState>,
    /// info, warning or critical.
    pub severity: Option<String>,
    /// The rule's id.
    pub rule: Option<i64>,
    /// A policy domain.
    pub domain: Option<String>,
    /// Created at or after: YYYY-MM-DD, RFC 3339 or epoch seconds.
    pub from: Option<String>,
    /// Created before (a date includes its day).
    pub to: Option<String>,
    /// Items per page (1-1000).
    pub limit: Option<u32>,
    /// Items to skip.
    pub offset: Option<u64>,
}

fn history_query(query: &str) -> ApiResult<(AlertFilter, Page)> {
    let pairs = pairs(query)?;
    let mut filter = AlertFilter::default();
    let mut page = Page::first(DEFAULT_PAGE);
    for (name, value) in pairs {
        let value = value.trim();
        match name.as_str() {
            "state" => {
                filter.state = Some(serde_json::from_value(json!(value)).map_err(|_| {
                    bad(
                        &name,
                        value,
                        "created, acknowledged, resolved or suppressed",
                    )
                })?);
            }
            "severity" if SEVERITIES.contains(&value) => filter.severity = Some(value.to_owned()),
            "severity" => return Err(bad(&name, value, "info, warning or critical")),
            "rule" => {
                filter.rule_id = Some(value.parse().map_err(|_| bad(&name, value, "a rule id"))?);
            }
            "domain" => filter.domain = Some(value.to_ascii_lowercase()),
            "from" => {
                filter.from = Some(timestamp(value, false).ok_or_else(|| bad(&name, value, TIME))?)
            }
            "to" => {
                filter.to = Some(timestamp(value, true).ok_or_else(|| bad(&name, value, TIME))?)
            }
            "limit" | "offset" => page_parameter(&mut page, &name, value)?,
            other => {
                return Err(unknown_parameter(
                    other,
                    "state, severity, rule, domain, from, to, limit, offset",
                ));
            }
        }
    }
    Ok((filter, page))
}

/// `GET /alerts/history` (any role): alerts, newest first.
#[utoipa::path(
    get,
    path = "/alerts/history",
    tag = "alerts",
    summary = "Alerts, newest first, with the times of each state",
    description = "Any role; access token or API key.",
    params(HistoryParams),
    responses(
        (status = 200, description = "OK", body = Paged<Alert>),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn history(
    State(state): State<AppState>,
    _caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Paged<Alert>>> {
    let (filter, page) = history_query(query.as_deref().unwrap_or(""))?;
    Ok(Json(state.store.alerts(&filter, page).await?))
}

async fn move_alert(
    state: &AppState,
    caller: &Caller,
    id: i64,
    to: AlertState,
) -> ApiResult<Json<Alert>> {
    caller.require(Role::Analyst)?;
    let alert = state
        .store
        .move_alert(id, to, &caller.actor(), now())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no alert {id}")))?;
    state
        .audit(caller.audit(
            &format!(
                "alert.{}",
                if to == AlertState::Resolved {
                    "resolve"
                } else {
                    "acknowledge"
                }
            ),
            Some(id.to_string()),
            json!({ "subject": alert.subject }),
        ))
        .await;
    Ok(Json(alert))
}

/// `GET /alerts/{id}/deliveries` (any role): how the alert went to each channel.
#[utoipa::path(
    get,
    path = "/alerts/{id}/deliveries",
    tag = "alerts",
    summary = "An alert's deliveries: per channel the state, attempts, the receiver's status (HTTP, or the SMTP reply code) and the last error",
    description = "Any role; access token or API key.",
    params(("id" = i64, Path, description = "The item's id")),
    responses(
        (status = 200, description = "OK", body = [Delivery]),
        (status = 404, description = "No such item", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Delivery>>> {
    if state.store.alert(id).await?.is_none() {
        return Err(ApiError::not_found(format!("no alert {id}")));
    }
    Ok(Json(state.store.deliveries(id).await?))
}

/// `PATCH /alerts/{id}/acknowledge` (analyst).
#[utoipa::path(
    patch,
    path = "/alerts/{id}/acknowledge",
    tag = "alerts",
    summary = "Acknowledge an alert (from created)",
    description = "Analyst or admin; access token or API key.",
    params(("id" = i64, Path, description = "The item's id")),
    responses(
        (status = 200, description = "OK", body = Alert),
        (status = 404, description = "No such item", body = ErrorBody),
        (status = 409, description = "The alert is not in a state that allows it", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        AdminErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Alert>> {
    move_alert(&state, &caller, id, AlertState::Acknowledged).await
}

/// `PATCH /alerts/{id}/resolve` (analyst).
#[utoipa::path(
    patch,
    path = "/alerts/{id}/resolve",
    tag = "alerts",
    summary = "Resolve an alert (from created or acknowledged)",
    description = "Analyst or admin; access token or API key.",
    params(("id" = i64, Path, description = "The item's id")),
    responses(
        (status = 200, description = "OK", body = Alert),
        (status = 404, description = "No such item", body = ErrorBody),
        (status = 409, description = "The alert is not in a state that allows it", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        AdminErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Alert>> {
    move_alert(&state, &caller, id, AlertState::Resolved).await
}

/// `POST /alerts/suppressions` body.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressionRequest {
    /// Only this rule's alerts.
    #[serde(default)]
    rule_id: Option<i64>,
    /// Only this domain's alerts.
    #[serde(default)]
    domain: Option<String>,
    /// Only alerts with this fingerprint.
    #[serde(default)]
    fingerprint: Option<String>,
    /// Start: YYYY-MM-DD, RFC 3339 or epoch seconds (default: now).
    #[serde(default)]
    starts_at: Option<Value>,
    /// End (exclusive).
    ends_at: Value,
    /// Why.
    reason: String,
}

/// A time given as text (`YYYY-MM-DD`, RFC 3339) or epoch seconds.
fn time_value(name: &str, value: &Value) -> ApiResult<i64> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => String::new(),
    };
    timestamp(&text, false).ok_or_else(|| bad(name, &text, TIME))
}

/// `POST /alerts/suppressions` (analyst).
#[utoipa::path(
    post,
    path = "/alerts/suppressions",
    tag = "alerts",
    summary = "Suppress alerts (of a rule, a domain, a fingerprint, or all) between two times",
    description = "Analyst or admin; access token or API key. Suppressed alerts are recorded, not sent.",
    request_body = SuppressionRequest,
    responses(
        (status = 201, description = "Created", body = Suppression),
        ChangeErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn create_suppression(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<SuppressionRequest>,
) -> ApiResult<(StatusCode, Json<Suppression>)> {
    caller.require(Role::Analyst)?;
    let starts_at = match &request.starts_at {
        Some(value) => time_value("starts_at", value)?,
        None => now(),
    };
    let ends_at = time_value("ends_at", &request.ends_at)?;
    if ends_at <= starts_at {
        return Err(ApiError::bad_request("ends_at must be after starts_at"));
    }
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::bad_request(
            "reason must have 1 to 500 characters",
        ));
    }
    let clean = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_ascii_lowercase)
    };
    let created = state
        .store
        .create_suppression(
            &NewSuppression {
                rule_id: request.rule_id,
                domain: clean(&request.domain),
                fingerprint: clean(&request.fingerprint),
                starts_at,
                ends_at,
                reason: reason.to_owned(),
            },
            &caller.actor(),
        )
        .await?;
    state
        .audit(caller.audit(
            "alert_suppression.create",
            Some(created.id.to_string()),
            json!({ "rule_id": created.rule_id, "domain": created.domain, "fingerprint": created.fingerprint,
                    "starts_at": starts_at, "ends_at": ends_at }),
        ))
        .await;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The parameters of `GET /alerts/suppressions`.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuppressionParams {
    /// true: only the windows in force now.
    pub active: Option<bool>,
}

/// `GET /alerts/suppressions` (any role).
#[utoipa::path(
    get,
    path = "/alerts/suppressions",
    tag = "alerts",
    summary = "Suppression windows, newest first",
    description = "Any role; access token or API key.",
    params(SuppressionParams),
    responses(
        (status = 200, description = "OK", body = [Suppression]),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn suppressions(
    State(state): State<AppState>,
    _caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Vec<Suppression>>> {
    let pairs = pairs(query.as_deref().unwrap_or(""))?;
    let mut active = false;
    for (name, value) in pairs {
        match (name.as_str(), value.trim()) {
            ("active", "true") => active = true,
            ("active", "false") => active = false,
            ("active", other) => return Err(bad("active", other, "true or false")),
            (other, _) => {
                return Err(unknown_parameter(other, "active"));
            }
        }
    }
    Ok(Json(state.store.suppressions(active.then(now)).await?))
}

/// `DELETE /alerts/suppressions/{id}` (analyst).
#[utoipa::path(
    delete,
    path = "/alerts/suppressions/{id}",
    tag = "alerts",
    summary = "Delete a suppression window",
    description = "Analyst or admin; access token or API key.",
    params(("id" = i64, Path, description = "The item's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such item", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        AdminErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn delete_suppression(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Analyst)?;
    if !state.store.delete_suppression(id).await? {
        return Err(ApiError::not_found(format!("no suppression {id}")));
    }
    state
        .audit(caller.audit("alert_suppression.delete", Some(id.to_string()), json!({})))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The parameters of `GET /alerts/analytics`.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsParams {
    /// Alerts created at or after: YYYY-MM-DD, RFC 3339 or epoch seconds.
    pub from: Option<String>,
    /// Created before (a date includes its day).
    pub to: Option<String>,
}

/// `GET /alerts/analytics` (any role).
#[utoipa::path(
    get,
    path = "/alerts/analytics",
    tag = "alerts",
    summary = "Alerts by severity, state, rule and day; mean times to acknowledge and to resolve; the share acknowledged",
    description = "Any role; access token or API key.",
    params(AnalyticsParams),
    responses(
        (status = 200, description = "OK", body = AlertStats),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn analytics(
    State(state): State<AppState>,
    _caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<AlertStats>> {
    let pairs = pairs(query.as_deref().unwrap_or(""))?;
    let (mut from, mut to) = (None, None);
    for (name, value) in pairs {
        let value = value.trim();
        match name.as_str() {
            "from" => from = Some(timestamp(value, false).ok_or_else(|| bad(&name, value, TIME))?),
            "to" => to = Some(timestamp(value, true).ok_or_else(|| bad(&name, value, TIME))?),
            other => {
                return Err(unknown_parameter(other, "from, to"));
            }
        }
    }
    Ok(Json(state.store.alert_stats(from, to).await?))
}
