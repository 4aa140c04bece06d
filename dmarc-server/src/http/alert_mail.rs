//! Sending outside the alert lifecycle: a test message to one channel (admin), and the
//! digest, previewed (any role) or sent now (admin) for any period, since users replay old
//! reports. Every send is audited; channel addresses are never answered.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use dmarc_store::Role;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Caller;
use super::error::{ApiError, ApiResult, ChangeErrors, ErrorBody};
use super::query::{TIME, bad, pairs, timestamp, unknown_parameter};
use super::{AppState, now};
use crate::alerts::digest::{self, Digest, DigestSent};
use crate::alerts::{CHANNELS, delivery};

/// What a channel test did.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelTest {
    /// The channel.
    pub channel: String,
    /// The receiver accepted the message (a 2xx answer, or the SMTP server's 250).
    pub delivered: bool,
    /// The receiver's HTTP status or SMTP reply code.
    pub status_code: Option<u16>,
    /// Why it was not delivered (never the channel's address).
    pub error: Option<String>,
}

fn not_configured(channel: &str) -> ApiError {
    let key = if channel == "email" {
        "alerts.smtp_url, email_from and email_to".to_owned()
    } else {
        format!("alerts.{channel}_webhook_url")
    };
    ApiError::conflict(format!(
        "the {channel} channel is not configured: set {key}"
    ))
}

/// `POST /alerts/channels/{channel}/test` (admin): send a test message now.
#[utoipa::path(
    post,
    path = "/alerts/channels/{channel}/test",
    tag = "alerts",
    summary = "Send a test message to one channel now (teams, slack, discord or email)",
    description = "Admin; access token or API key. Answers what the receiver did; 409 when the channel is not configured.",
    params(("channel" = String, Path, description = "teams, slack, discord or email")),
    responses(
        (status = 200, description = "The receiver's answer", body = ChannelTest),
        (status = 400, description = "No such channel", body = ErrorBody),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 403, description = "The caller's role (or an API key) may not do this", body = ErrorBody),
        (status = 409, description = "The channel is not configured", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn test_channel(
    State(state): State<AppState>,
    caller: Caller,
    Path(channel): Path<String>,
) -> ApiResult<Json<ChannelTest>> {
    caller.require(Role::Admin)?;
    if !CHANNELS.contains(&channel.as_str()) {
        return Err(bad("channel", &channel, &CHANNELS.join(", ")));
    }
    let config = &state.config.alerts;
    if config.address(&channel).is_none() {
        return Err(not_configured(&channel));
    }
    let alert = delivery::test_alert(&caller.actor(), now());
    let sent = delivery::send(config, state.jobs.http(), &channel, &alert).await;
    let answer = ChannelTest {
        channel,
        delivered: sent.error.is_none(),
        status_code: sent.status,
        error: sent.error,
    };
    state
        .audit(caller.audit(
            "alert_channel.test",
            Some(answer.channel.clone()),
            json!({ "delivered": answer.delivered, "status_code": answer.status_code }),
        ))
        .await;
    Ok(Json(answer))
}

/// The longest digest period: 20 years (old reports are replayed).
const MAX_DAYS: u32 = 20 * 366;

/// The parameters of `GET /alerts/digest`.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DigestParams {
    /// The end of the period: YYYY-MM-DD (the end of that day), RFC 3339 or epoch
    /// seconds; now when absent.
    pub to: Option<String>,
    /// The days it covers (1 to 7320); `alerts.digest_days` when absent.
    pub days: Option<u32>,
}

/// The last second of year 9999.
const LAST_SECOND: i64 = 253_402_300_799;

fn period_end(value: &str) -> ApiResult<i64> {
    timestamp(value.trim(), true)
        .filter(|t| (0..=LAST_SECOND).contains(t))
        .ok_or_else(|| bad("to", value, &format!("{TIME}, from 1970 to 9999")))
}

fn period_days(value: u32) -> ApiResult<u32> {
    if (1..=MAX_DAYS).contains(&value) {
        Ok(value)
    } else {
        Err(bad("days", &value.to_string(), "a number from 1 to 7320"))
    }
}

/// `GET /alerts/digest` (any role): the digest of a period, as it would be sent.
#[utoipa::path(
    get,
    path = "/alerts/digest",
    tag = "alerts",
    summary = "The digest of a period: per domain the pass rate and its change, new and top failing addresses, open alerts",
    description = "Any role; access token or API key.",
    params(DigestParams),
    responses(
        (status = 200, description = "OK", body = Digest),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn preview(
    State(state): State<AppState>,
    _caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Digest>> {
    let pairs = pairs(query.as_deref().unwrap_or(""))?;
    let (mut to, mut days) = (now(), state.config.alerts.digest_days);
    for (name, value) in pairs {
        match name.as_str() {
            "to" => to = period_end(&value)?,
            "days" => {
                days = period_days(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| bad("days", &value, "a number from 1 to 7320"))?,
                )?;
            }
            other => return Err(unknown_parameter(other, "to, days")),
        }
    }
    Ok(Json(digest::build(&state.store, to, days).await?))
}

/// What `POST /alerts/digest/send` takes; every field is optional.
#[derive(utoipa::ToSchema, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestRequest {
    /// The end of the period (as `to` of `GET /alerts/digest`); now when absent.
    pub to: Option<String>,
    /// The days it covers (1 to 7320); `alerts.digest_days` when absent.
    pub days: Option<u32>,
    /// Send it even when there is nothing to report.
    #[serde(default)]
    pub always: bool,
}

/// `POST /alerts/digest/send` (admin): e-mail the digest of a period now.
#[utoipa::path(
    post,
    path = "/alerts/digest/send",
    tag = "alerts",
    summary = "E-mail the digest of a period to the digest recipients now",
    description = "Admin; access token or API key. Answers the digest and what the SMTP server did; a clean digest is not sent unless `always` or `alerts.digest_when_clean`; 409 when e-mail is not configured.",
    request_body = DigestRequest,
    responses(
        (status = 200, description = "The digest and whether it was sent", body = DigestSent),
        (status = 409, description = "E-mail is not configured", body = ErrorBody),
        ChangeErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<DigestRequest>,
) -> ApiResult<Json<DigestSent>> {
    caller.require(Role::Admin)?;
    let config = &state.config.alerts;
    let to = request
        .to
        .as_deref()
        .map_or_else(|| Ok(now()), period_end)?;
    let days = period_days(request.days.unwrap_or(config.digest_days))?;
    if config.address("email").is_none() {
        return Err(not_configured("email"));
    }
    let done = digest::send(&state.store, config, to, days, request.always).await?;
    state
        .audit(caller.audit(
            "alert_digest.send",
            None,
            json!({ "to": to, "days": days, "sent": done.sent,
                    "recipients": done.recipients.len() }),
        ))
        .await;
    Ok(Json(done))
}
