//! Deliveries of alerts: one record per alert and channel, updated at each attempt.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::query::{Arg, Sql};
use crate::store::Store;
use crate::{Result, StoreError};

/// How an alert's delivery to a channel went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    /// Database id.
    pub id: i64,
    /// The alert.
    pub alert_id: i64,
    /// `teams`, `slack`, `discord` or `email`.
    pub channel: String,
    /// `pending` (to be tried again), `delivered` or `failed` (no attempt left).
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// The receiver's answer at the last attempt, when it answered: the HTTP status of a
    /// webhook, or the SMTP reply code of an e-mail.
    pub status_code: Option<i64>,
    /// Why the last attempt did not deliver.
    pub error: Option<String>,
    /// UTC seconds.
    pub created_at: i64,
    /// UTC seconds of the last attempt.
    pub updated_at: i64,
}

/// One attempt's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The receiver took it.
    pub delivered: bool,
    /// No attempt follows this one when it failed.
    pub last: bool,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i64>,
    /// Why it did not deliver.
    pub error: Option<String>,
}

const COLUMNS: &str =
    "id, alert_id, channel, state, attempts, status_code, error, created_at, updated_at";

fn delivery_from(row: &AnyRow) -> Result<Delivery> {
    Ok(Delivery {
        id: row.try_get("id")?,
        alert_id: row.try_get("alert_id")?,
        channel: row.try_get("channel")?,
        state: row.try_get("state")?,
        attempts: row.try_get("attempts")?,
        status_code: row.try_get("status_code")?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Records an attempt to deliver alert `alert_id` to `channel` at `at`.
    pub async fn record_delivery(
        &self,
        alert_id: i64,
        channel: &str,
        attempt: &Attempt,
        at: i64,
    ) -> Result<Delivery> {
        let state = match (attempt.delivered, attempt.last) {
            (true, _) => "delivered",
            (false, true) => "failed",
            (false, false) => "pending",
        };
        let rows = Sql::new(&format!(
            "INSERT INTO alert_deliveries (alert_id, channel, state, attempts, status_code, \
             error, created_at, updated_at) VALUES ($1, $2, $3, 1, $4, $5, $6, $7) \
             ON CONFLICT (alert_id, channel) DO UPDATE SET state = excluded.state, \
             attempts = alert_deliveries.attempts + 1, status_code = excluded.status_code, \
             error = excluded.error, updated_at = excluded.updated_at RETURNING {COLUMNS}"
        ))
        .bind(Arg::Int(alert_id))
        .bind(Arg::Text(channel.to_owned()))
        .bind(Arg::Text(state.to_owned()))
        .bind(Arg::OptInt(attempt.status_code))
        .bind(Arg::OptText(attempt.error.clone()))
        .bind(Arg::Int(at))
        .bind(Arg::Int(at))
        .fetch_all(self.backend(), self.pool())
        .await?;
        delivery_from(
            rows.first()
                .ok_or_else(|| StoreError::Corrupt("no delivery record".into()))?,
        )
    }

    /// The deliveries of an alert, first created first.
    pub async fn deliveries(&self, alert_id: i64) -> Result<Vec<Delivery>> {
        Sql::new(&format!(
            "SELECT {COLUMNS} FROM alert_deliveries WHERE alert_id = $1 ORDER BY id"
        ))
        .bind(Arg::Int(alert_id))
        .fetch_all(self.backend(), self.pool())
        .await?
        .iter()
        .map(delivery_from)
        .collect()
    }
}
