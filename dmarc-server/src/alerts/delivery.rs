//! Sending alerts: one job per alert and channel, with the queue's retries and a delivery
//! record per attempt. Teams goes first: the other channels of an alert are queued by the
//! Teams job after its first attempt, whatever its outcome, so a failing Teams never holds
//! them back.

use dmarc_store::{Alert, Attempt, NewJob, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{email, messages, webhooks};
use crate::config::AlertsConfig;

/// The job kind of a delivery.
pub const KIND: &str = "alert-delivery";

/// What a delivery job says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The alert.
    pub alert_id: i64,
    /// Where to send it.
    pub channel: String,
    /// The channels to queue after the first attempt here (Teams first, then the others).
    #[serde(default)]
    pub then: Vec<String>,
}

/// The delivery jobs of a new alert: Teams first when it is among the channels, carrying
/// the others; otherwise one job per channel.
pub fn orders(alert: &Alert, channels: &[String]) -> Vec<Order> {
    let order = |channel: &str, then: Vec<String>| Order {
        alert_id: alert.id,
        channel: channel.to_owned(),
        then,
    };
    if channels.iter().any(|c| c == "teams") {
        let others = channels.iter().filter(|c| *c != "teams").cloned().collect();
        vec![order("teams", others)]
    } else {
        channels.iter().map(|c| order(c, Vec::new())).collect()
    }
}

/// A delivery job for `order`, due at `now` (ms).
pub fn job(order: &Order, max_attempts: u32, now: i64) -> NewJob {
    NewJob {
        kind: KIND.to_owned(),
        payload: json!(order),
        max_attempts,
        run_at: now,
        created_by: "alerts".to_owned(),
    }
}

/// What one attempt did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The result of the job when it is over (delivered, or nothing to deliver).
    pub result: Value,
    /// Why it was not delivered (the job fails and is tried again).
    pub error: Option<String>,
}

/// Sends `alert` to `channel` once; webhooks go through `client` (none when it could not
/// be made: then only e-mail can be sent).
pub async fn send(
    config: &AlertsConfig,
    client: Option<&reqwest::Client>,
    channel: &str,
    alert: &Alert,
) -> webhooks::Sent {
    let failed = |error: String| webhooks::Sent {
        status: None,
        error: Some(error),
    };
    let body = match channel {
        "teams" => messages::teams(alert),
        "slack" => messages::slack(alert),
        "discord" => messages::discord(alert),
        "email" => {
            return match config.address(channel) {
                Some(_) => email::send(config, &[], &messages::email(alert)).await,
                None => failed("the email channel is not configured".to_owned()),
            };
        }
        other => return failed(format!("{other} is not a channel")),
    };
    match (config.address(channel), client) {
        (None, _) => failed(format!("the {channel} channel is not configured")),
        (Some(_), None) => failed("no HTTP client could be made for webhooks".to_owned()),
        (Some(url), Some(client)) => webhooks::post(client, url, &body).await,
    }
}

/// The message a channel test sends: an informational alert that is not stored (id 0).
pub fn test_alert(actor: &str, at: i64) -> Alert {
    Alert {
        id: 0,
        rule_id: None,
        rule_name: "channel test".to_owned(),
        fingerprint: String::new(),
        subject: "channel test".to_owned(),
        domain: None,
        severity: "info".to_owned(),
        state: dmarc_store::AlertState::Created,
        summary: format!("A test message from dmarc, sent by {actor}: this channel works."),
        detail: json!({}),
        created_at: at,
        last_seen_at: at,
        acknowledged_at: None,
        acknowledged_by: None,
        resolved_at: None,
        resolved_by: None,
        suppression_id: None,
    }
}

/// Attempt number `attempt` (of `max_attempts`) of `order`, recorded.
pub async fn attempt(
    store: &Store,
    config: &AlertsConfig,
    client: Option<&reqwest::Client>,
    order: &Order,
    attempt: u32,
    max_attempts: u32,
    now: i64,
) -> Result<Outcome, dmarc_store::StoreError> {
    let Some(alert) = store.alert(order.alert_id).await? else {
        return Ok(Outcome {
            result: json!({ "skipped": format!("alert {} no longer exists", order.alert_id) }),
            error: None,
        });
    };
    let sent = send(config, client, &order.channel, &alert).await;
    let delivered = sent.error.is_none();
    // An unconfigured channel will not be configured by trying again.
    let hopeless = sent.status.is_none() && config.address(&order.channel).is_none();
    let record = store
        .record_delivery(
            alert.id,
            &order.channel,
            &Attempt {
                delivered,
                last: hopeless || attempt >= max_attempts,
                status_code: sent.status.map(i64::from),
                error: sent.error.clone(),
            },
            now / 1000,
        )
        .await?;
    let result = json!({ "alert_id": alert.id, "channel": order.channel, "state": record.state,
                         "attempts": record.attempts, "status_code": record.status_code });
    Ok(Outcome {
        result,
        error: if delivered || hopeless {
            None
        } else {
            sent.error
        },
    })
}
