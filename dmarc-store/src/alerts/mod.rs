//! Alerting's storage: rules, the alerts they raise with their lifecycle (created ->
//! acknowledged -> resolved, or suppressed), and suppression windows. What a rule finds is
//! computed by the server; [`Store::record_findings`] applies the deduplication, cooldown,
//! suppression and auto-resolve rules to it in one transaction (`history.rs`, with the
//! history, the moves of an alert and the analytics).

mod deliveries;
mod history;

pub use deliveries::{Attempt, Delivery};

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::query::{Arg, Sql};
use crate::store::Store;
use crate::{Result, StoreError};

/// A stored alert rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertRule {
    /// Database id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// What it watches: `failure_rate`, `volume_spike`, `new_source`, `new_network`,
    /// `missing_reports`, `policy_change`, `anomaly`.
    pub kind: String,
    /// The policy domain it watches; absent: every domain.
    pub domain: Option<String>,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// The kind's parameters.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub params: serde_json::Value,
    /// No new alert for the same subject within this many minutes of the last one.
    pub cooldown_minutes: i64,
    /// An open alert is resolved when its condition has cleared for this many minutes.
    pub auto_resolve_minutes: i64,
    /// Where its alerts are sent: `teams`, `slack`, `discord`, `email`.
    pub channels: Vec<String>,
    /// Evaluated when true.
    pub enabled: bool,
    /// Who created it.
    pub created_by: String,
    /// UTC seconds.
    pub created_at: i64,
    /// UTC seconds.
    pub updated_at: i64,
}

/// A rule's settings, as created or replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSettings {
    /// Unique name.
    pub name: String,
    /// The kind.
    pub kind: String,
    /// Lower-case policy domain, or every domain.
    pub domain: Option<String>,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// The kind's parameters.
    pub params: serde_json::Value,
    /// Minutes.
    pub cooldown_minutes: i64,
    /// Minutes.
    pub auto_resolve_minutes: i64,
    /// Channel names.
    pub channels: Vec<String>,
    /// Evaluated when true.
    pub enabled: bool,
}

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Raised and sent, nobody has looked at it yet.
    Created,
    /// Someone is on it.
    Acknowledged,
    /// Over: by a person, or `auto` when the condition cleared.
    Resolved,
    /// Raised inside a suppression window: recorded, not sent.
    Suppressed,
}

impl AlertState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Created => "created",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
            AlertState::Suppressed => "suppressed",
        }
    }

    fn parse(text: &str) -> Result<AlertState> {
        Ok(match text {
            "created" => AlertState::Created,
            "acknowledged" => AlertState::Acknowledged,
            "resolved" => AlertState::Resolved,
            "suppressed" => AlertState::Suppressed,
            other => return Err(StoreError::Corrupt(format!("alert state {other:?}"))),
        })
    }
}

/// A raised alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alert {
    /// Database id.
    pub id: i64,
    /// The rule that raised it (absent once the rule is deleted).
    pub rule_id: Option<i64>,
    /// The rule's name when it raised it.
    pub rule_name: String,
    /// SHA-256 (hex) of the rule and the subject: one open alert per fingerprint.
    pub fingerprint: String,
    /// What it is about: a domain, or a domain and an address.
    pub subject: String,
    /// The policy domain.
    pub domain: Option<String>,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// Where it is in its life.
    pub state: AlertState,
    /// One sentence for people.
    pub summary: String,
    /// The figures that raised it.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
    /// UTC seconds.
    pub created_at: i64,
    /// The last evaluation that found the condition (UTC seconds).
    pub last_seen_at: i64,
    /// UTC seconds.
    pub acknowledged_at: Option<i64>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// UTC seconds.
    pub resolved_at: Option<i64>,
    /// Who resolved it, or `auto`.
    pub resolved_by: Option<String>,
    /// The suppression window that held it back.
    pub suppression_id: Option<i64>,
}

/// What a rule found about one subject in an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// SHA-256 (hex) of the rule and the subject.
    pub fingerprint: String,
    /// A domain, or a domain and an address.
    pub subject: String,
    /// The policy domain.
    pub domain: Option<String>,
    /// One sentence for people.
    pub summary: String,
    /// The figures.
    pub detail: serde_json::Value,
}

/// What an evaluation of one rule changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recorded {
    /// New alerts, to be sent.
    pub created: Vec<Alert>,
    /// New alerts inside a suppression window: recorded, not sent.
    pub suppressed: Vec<Alert>,
    /// Findings with an open alert already, or inside the cooldown of the last one.
    pub repeated: u64,
    /// Open alerts whose condition had cleared for long enough.
    pub resolved: Vec<Alert>,
}

/// A suppression window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suppression {
    /// Database id.
    pub id: i64,
    /// Only this rule's alerts.
    pub rule_id: Option<i64>,
    /// Only this domain's alerts.
    pub domain: Option<String>,
    /// Only alerts with this fingerprint.
    pub fingerprint: Option<String>,
    /// UTC seconds.
    pub starts_at: i64,
    /// UTC seconds (exclusive).
    pub ends_at: i64,
    /// Why.
    pub reason: String,
    /// Who.
    pub created_by: String,
    /// UTC seconds.
    pub created_at: i64,
}

/// A suppression window to create: what it matches (nothing named: every alert) and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSuppression {
    /// Only this rule's alerts.
    pub rule_id: Option<i64>,
    /// Only this domain's alerts.
    pub domain: Option<String>,
    /// Only alerts with this fingerprint.
    pub fingerprint: Option<String>,
    /// UTC seconds.
    pub starts_at: i64,
    /// UTC seconds (exclusive).
    pub ends_at: i64,
    /// Why.
    pub reason: String,
}

/// Which alerts a history lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// In this state.
    pub state: Option<AlertState>,
    /// Of this severity.
    pub severity: Option<String>,
    /// Raised by this rule.
    pub rule_id: Option<i64>,
    /// About this domain.
    pub domain: Option<String>,
    /// Created at or after (UTC seconds).
    pub from: Option<i64>,
    /// Created before (UTC seconds).
    pub to: Option<i64>,
}

/// Alert analytics over a period of creation times.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertStats {
    /// Alerts created in the period.
    pub total: u64,
    /// Per severity, most first.
    pub by_severity: Vec<Count>,
    /// Per state now, most first.
    pub by_state: Vec<Count>,
    /// Per rule (its name when it raised them), most first.
    pub by_rule: Vec<Count>,
    /// Per UTC day of creation (`YYYY-MM-DD`), in order.
    pub by_day: Vec<Count>,
    /// Mean seconds from creation to acknowledgement, over the acknowledged ones.
    pub mean_seconds_to_acknowledge: Option<f64>,
    /// Mean seconds from creation to resolution, over the resolved ones (by people and by
    /// `auto`).
    pub mean_seconds_to_resolve: Option<f64>,
    /// Share of the alerts that were sent (not suppressed) that someone acknowledged.
    pub acknowledged_share: Option<f64>,
}

/// A count under a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Count {
    /// What is counted.
    pub key: String,
    /// How many.
    pub count: u64,
}

const RULE_COLUMNS: &str = "id, name, kind, domain, severity, params, cooldown_minutes, \
     auto_resolve_minutes, channels, enabled, created_by, created_at, updated_at";
const ALERT_COLUMNS: &str = "id, rule_id, rule_name, fingerprint, subject, domain, severity, \
     state, summary, detail, created_at, last_seen_at, acknowledged_at, acknowledged_by, \
     resolved_at, resolved_by, suppression_id";
const SUPPRESSION_COLUMNS: &str =
    "id, rule_id, domain, fingerprint, starts_at, ends_at, reason, created_by, created_at";
const OPEN: &str = "state IN ('created', 'acknowledged')";

fn json(row: &AnyRow, column: &str) -> Result<serde_json::Value> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn rule_from(row: &AnyRow) -> Result<AlertRule> {
    let channels = json(row, "channels")?;
    Ok(AlertRule {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        domain: row.try_get("domain")?,
        severity: row.try_get("severity")?,
        params: json(row, "params")?,
        cooldown_minutes: row.try_get("cooldown_minutes")?,
        auto_resolve_minutes: row.try_get("auto_resolve_minutes")?,
        channels: serde_json::from_value(channels)
            .map_err(|e| StoreError::Corrupt(format!("channels: {e}")))?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn alert_from(row: &AnyRow) -> Result<Alert> {
    let state: String = row.try_get("state")?;
    Ok(Alert {
        id: row.try_get("id")?,
        rule_id: row.try_get("rule_id")?,
        rule_name: row.try_get("rule_name")?,
        fingerprint: row.try_get("fingerprint")?,
        subject: row.try_get("subject")?,
        domain: row.try_get("domain")?,
        severity: row.try_get("severity")?,
        state: AlertState::parse(&state)?,
        summary: row.try_get("summary")?,
        detail: json(row, "detail")?,
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        acknowledged_at: row.try_get("acknowledged_at")?,
        acknowledged_by: row.try_get("acknowledged_by")?,
        resolved_at: row.try_get("resolved_at")?,
        resolved_by: row.try_get("resolved_by")?,
        suppression_id: row.try_get("suppression_id")?,
    })
}

fn suppression_from(row: &AnyRow) -> Result<Suppression> {
    Ok(Suppression {
        id: row.try_get("id")?,
        rule_id: row.try_get("rule_id")?,
        domain: row.try_get("domain")?,
        fingerprint: row.try_get("fingerprint")?,
        starts_at: row.try_get("starts_at")?,
        ends_at: row.try_get("ends_at")?,
        reason: row.try_get("reason")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The settings as bound parameters, in the order of [`RULE_SETTINGS`].
fn settings_args(sql: Sql, rule: &RuleSettings) -> Sql {
    sql.bind(Arg::Text(rule.name.clone()))
        .bind(Arg::Text(rule.kind.clone()))
        .bind(Arg::OptText(rule.domain.clone()))
        .bind(Arg::Text(rule.severity.clone()))
        .bind(Arg::Text(rule.params.to_string()))
        .bind(Arg::Int(rule.cooldown_minutes))
        .bind(Arg::Int(rule.auto_resolve_minutes))
        .bind(Arg::Text(serde_json::json!(rule.channels).to_string()))
        .bind(Arg::Int(i64::from(rule.enabled)))
}

/// The rule-name conflict a unique violation means.
fn name_taken(e: StoreError, name: &str) -> StoreError {
    match &e {
        StoreError::Database(sqlx::Error::Database(db))
            if matches!(db.code().as_deref(), Some("23505" | "2067" | "1555")) =>
        {
            StoreError::Conflict(format!("a rule named {name:?} exists"))
        }
        _ => e,
    }
}

impl Store {
    /// Every rule, by id.
    pub async fn alert_rules(&self) -> Result<Vec<AlertRule>> {
        Sql::new(&format!(
            "SELECT {RULE_COLUMNS} FROM alert_rules ORDER BY id"
        ))
        .fetch_all(self.backend(), self.pool())
        .await?
        .iter()
        .map(rule_from)
        .collect()
    }

    /// One rule.
    pub async fn alert_rule(&self, id: i64) -> Result<Option<AlertRule>> {
        let rows = Sql::new(&format!(
            "SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = $1"
        ))
        .bind(Arg::Int(id))
        .fetch_all(self.backend(), self.pool())
        .await?;
        rows.first().map(rule_from).transpose()
    }

    /// Creates a rule; a taken name is a conflict.
    pub async fn create_alert_rule(&self, rule: &RuleSettings, by: &str) -> Result<AlertRule> {
        let at = crate::store::now();
        let sql = Sql::new(
            "INSERT INTO alert_rules (name, kind, domain, severity, params, cooldown_minutes, \
             auto_resolve_minutes, channels, enabled, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        );
        let rows = settings_args(sql, rule)
            .bind(Arg::Text(by.to_owned()))
            .bind(Arg::Int(at))
            .bind(Arg::Int(at))
            .fetch_all(self.backend(), self.pool())
            .await
            .map_err(|e| name_taken(e, &rule.name))?;
        let id: i64 = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("no id for a new rule".into()))?
            .try_get("id")?;
        self.alert_rule(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("rule {id}")))
    }

    /// Replaces a rule's settings; `None` when there is no such rule.
    pub async fn update_alert_rule(
        &self,
        id: i64,
        rule: &RuleSettings,
    ) -> Result<Option<AlertRule>> {
        let sql = Sql::new(
            "UPDATE alert_rules SET name = $1, kind = $2, domain = $3, severity = $4, \
             params = $5, cooldown_minutes = $6, auto_resolve_minutes = $7, channels = $8, \
             enabled = $9, updated_at = $10 WHERE id = $11",
        );
        let changed = settings_args(sql, rule)
            .bind(Arg::Int(crate::store::now()))
            .bind(Arg::Int(id))
            .execute(self.backend(), self.pool())
            .await
            .map_err(|e| name_taken(e, &rule.name))?;
        if changed == 0 {
            return Ok(None);
        }
        self.alert_rule(id).await
    }

    /// Deletes a rule (its alerts stay, with its name); false when there was none.
    pub async fn delete_alert_rule(&self, id: i64) -> Result<bool> {
        let backend = self.backend();
        let mut tx = self.begin_write().await?;
        Sql::new("UPDATE alerts SET rule_id = NULL WHERE rule_id = $1")
            .bind(Arg::Int(id))
            .execute(backend, &mut *tx)
            .await?;
        let deleted = Sql::new("DELETE FROM alert_rules WHERE id = $1")
            .bind(Arg::Int(id))
            .execute(backend, &mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Creates a suppression window.
    pub async fn create_suppression(&self, new: &NewSuppression, by: &str) -> Result<Suppression> {
        let rows = Sql::new(&format!(
            "INSERT INTO alert_suppressions (rule_id, domain, fingerprint, starts_at, ends_at, \
             reason, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING {SUPPRESSION_COLUMNS}"
        ))
        .bind(Arg::OptInt(new.rule_id))
        .bind(Arg::OptText(new.domain.clone()))
        .bind(Arg::OptText(new.fingerprint.clone()))
        .bind(Arg::Int(new.starts_at))
        .bind(Arg::Int(new.ends_at))
        .bind(Arg::Text(new.reason.clone()))
        .bind(Arg::Text(by.to_owned()))
        .bind(Arg::Int(crate::store::now()))
        .fetch_all(self.backend(), self.pool())
        .await?;
        suppression_from(
            rows.first()
                .ok_or_else(|| StoreError::Corrupt("no new suppression".into()))?,
        )
    }

    /// Suppression windows, newest first; `active_at`: only those in force then.
    pub async fn suppressions(&self, active_at: Option<i64>) -> Result<Vec<Suppression>> {
        let mut sql = Sql::new(&format!(
            "SELECT {SUPPRESSION_COLUMNS} FROM alert_suppressions"
        ));
        if let Some(at) = active_at {
            sql.push(" WHERE starts_at <= ")
                .arg(Arg::Int(at))
                .push(" AND ends_at > ")
                .arg(Arg::Int(at));
        }
        sql.push(" ORDER BY id DESC");
        sql.fetch_all(self.backend(), self.pool())
            .await?
            .iter()
            .map(suppression_from)
            .collect()
    }

    /// Deletes a suppression window; false when there was none.
    pub async fn delete_suppression(&self, id: i64) -> Result<bool> {
        let deleted = Sql::new("DELETE FROM alert_suppressions WHERE id = $1")
            .bind(Arg::Int(id))
            .execute(self.backend(), self.pool())
            .await?;
        Ok(deleted > 0)
    }
}
