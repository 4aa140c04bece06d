//! Alerting's storage: rules, the alerts they raise with their lifecycle (created ->
//! acknowledged -> resolved, or suppressed), and suppression windows. What a rule finds is
//! computed by the server; [`Store::record_findings`] applies the deduplication, cooldown,
//! suppression and auto-resolve rules to it in one transaction.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::query::{Arg, Sql};
use crate::store::Store;
use crate::types::{Page, Paged};
use crate::{Result, StoreError};

/// A stored alert rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertRule {
    /// Database id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// What it watches: `failure_rate`, `volume_spike`, `new_source`, `missing_reports`,
    /// `policy_change`.
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

    /// Applies what `rule` found at `at` (UTC seconds): a finding with an open alert of its
    /// fingerprint refreshes it; one within the cooldown of the last alert of its
    /// fingerprint is a repeat; otherwise a new alert, `suppressed` inside a matching
    /// suppression window. Open alerts of the rule not found again, whose condition has
    /// cleared for `auto_resolve_minutes`, are resolved by `auto`. One transaction.
    pub async fn record_findings(
        &self,
        rule: &AlertRule,
        findings: &[Finding],
        at: i64,
    ) -> Result<Recorded> {
        let backend = self.backend();
        let mut tx = self.begin_write().await?;
        let mut out = Recorded::default();
        let cooldown_start = at.saturating_sub(rule.cooldown_minutes.saturating_mul(60));
        for finding in findings {
            let refreshed = Sql::new(&format!(
                "UPDATE alerts SET last_seen_at = $1 WHERE fingerprint = $2 AND {OPEN}"
            ))
            .bind(Arg::Int(at))
            .bind(Arg::Text(finding.fingerprint.clone()))
            .execute(backend, &mut *tx)
            .await?;
            let recent =
                Sql::new("SELECT COUNT(*) FROM alerts WHERE fingerprint = $1 AND created_at > $2")
                    .bind(Arg::Text(finding.fingerprint.clone()))
                    .bind(Arg::Int(cooldown_start))
                    .fetch_count(backend, &mut *tx)
                    .await?;
            if refreshed > 0 || recent > 0 {
                out.repeated += 1;
                continue;
            }
            let suppression = Sql::new(
                "SELECT id FROM alert_suppressions WHERE starts_at <= $1 AND ends_at > $2 \
                 AND (rule_id IS NULL OR rule_id = $3) AND (domain IS NULL OR domain = $4) \
                 AND (fingerprint IS NULL OR fingerprint = $5) ORDER BY id LIMIT 1",
            )
            .bind(Arg::Int(at))
            .bind(Arg::Int(at))
            .bind(Arg::Int(rule.id))
            .bind(Arg::Text(finding.domain.clone().unwrap_or_default()))
            .bind(Arg::Text(finding.fingerprint.clone()))
            .fetch_all(backend, &mut *tx)
            .await?;
            let suppression_id: Option<i64> = match suppression.first() {
                Some(row) => Some(row.try_get("id")?),
                None => None,
            };
            let state = if suppression_id.is_some() {
                AlertState::Suppressed
            } else {
                AlertState::Created
            };
            let rows = Sql::new(&format!(
                "INSERT INTO alerts (rule_id, rule_name, fingerprint, subject, domain, severity, \
                 state, summary, detail, created_at, last_seen_at, suppression_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 RETURNING {ALERT_COLUMNS}"
            ))
            .bind(Arg::Int(rule.id))
            .bind(Arg::Text(rule.name.clone()))
            .bind(Arg::Text(finding.fingerprint.clone()))
            .bind(Arg::Text(finding.subject.clone()))
            .bind(Arg::OptText(finding.domain.clone()))
            .bind(Arg::Text(rule.severity.clone()))
            .bind(Arg::Text(state.as_str().to_owned()))
            .bind(Arg::Text(finding.summary.clone()))
            .bind(Arg::Text(finding.detail.to_string()))
            .bind(Arg::Int(at))
            .bind(Arg::Int(at))
            .bind(Arg::OptInt(suppression_id))
            .fetch_all(backend, &mut *tx)
            .await?;
            let alert = alert_from(
                rows.first()
                    .ok_or_else(|| StoreError::Corrupt("no new alert".into()))?,
            )?;
            match state {
                AlertState::Suppressed => out.suppressed.push(alert),
                _ => out.created.push(alert),
            }
        }
        // A suppressed alert is never open, so a condition that lasts past the window
        // raises a new one once the cooldown has passed.
        let cleared_before = at.saturating_sub(rule.auto_resolve_minutes.saturating_mul(60));
        let rows = Sql::new(&format!(
            "UPDATE alerts SET state = 'resolved', resolved_at = $1, resolved_by = 'auto' \
             WHERE rule_id = $2 AND {OPEN} AND last_seen_at < $3 AND last_seen_at <= $4 \
             RETURNING {ALERT_COLUMNS}"
        ))
        .bind(Arg::Int(at))
        .bind(Arg::Int(rule.id))
        .bind(Arg::Int(at))
        .bind(Arg::Int(cleared_before))
        .fetch_all(backend, &mut *tx)
        .await?;
        out.resolved = rows.iter().map(alert_from).collect::<Result<_>>()?;
        tx.commit().await?;
        Ok(out)
    }

    /// Alerts, newest first.
    pub async fn alerts(&self, filter: &AlertFilter, page: Page) -> Result<Paged<Alert>> {
        let backend = self.backend();
        let (limit, offset) = page.clamped();
        let conditions = |sql: &mut Sql| {
            sql.push(" WHERE 1 = 1");
            if let Some(state) = filter.state {
                sql.push(" AND state = ")
                    .arg(Arg::Text(state.as_str().to_owned()));
            }
            if let Some(severity) = &filter.severity {
                sql.push(" AND severity = ")
                    .arg(Arg::Text(severity.clone()));
            }
            if let Some(rule) = filter.rule_id {
                sql.push(" AND rule_id = ").arg(Arg::Int(rule));
            }
            if let Some(domain) = &filter.domain {
                sql.push(" AND domain = ").arg(Arg::Text(domain.clone()));
            }
            if let Some(from) = filter.from {
                sql.push(" AND created_at >= ").arg(Arg::Int(from));
            }
            if let Some(to) = filter.to {
                sql.push(" AND created_at < ").arg(Arg::Int(to));
            }
        };
        let mut count = Sql::new("SELECT COUNT(*) FROM alerts");
        conditions(&mut count);
        let total = count.fetch_count(backend, self.pool()).await?;
        let mut sql = Sql::new(&format!("SELECT {ALERT_COLUMNS} FROM alerts"));
        conditions(&mut sql);
        sql.push(" ORDER BY id DESC LIMIT ")
            .arg(Arg::Int(limit))
            .push(" OFFSET ")
            .arg(Arg::Int(offset));
        let items = sql
            .fetch_all(backend, self.pool())
            .await?
            .iter()
            .map(alert_from)
            .collect::<Result<_>>()?;
        Ok(Paged {
            items,
            total: u64::try_from(total).unwrap_or_default(),
            total_capped: false,
            limit: page.limit.clamp(1, Page::MAX_LIMIT),
            offset: page.offset,
        })
    }

    /// Analytics of the alerts created in `[from, to)` (UTC seconds; open sides: all).
    pub async fn alert_stats(&self, from: Option<i64>, to: Option<i64>) -> Result<AlertStats> {
        let backend = self.backend();
        let period = |sql: &mut Sql| {
            sql.push(" WHERE created_at >= ")
                .arg(Arg::Int(from.unwrap_or(i64::MIN)))
                .push(" AND created_at < ")
                .arg(Arg::Int(to.unwrap_or(i64::MAX)));
        };
        let counts = |column: &'static str| {
            let mut sql = Sql::new(&format!("SELECT {column} AS k, COUNT(*) AS n FROM alerts"));
            period(&mut sql);
            sql.push(&format!(" GROUP BY {column} ORDER BY n DESC, k"));
            sql
        };
        let count = |row: &AnyRow| -> Result<u64> {
            Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or_default())
        };
        let mut grouped = Vec::new();
        for column in ["severity", "state", "rule_name"] {
            let rows = counts(column).fetch_all(backend, self.pool()).await?;
            grouped.push(
                rows.iter()
                    .map(|row| {
                        Ok(Count {
                            key: row.try_get("k")?,
                            count: count(row)?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            );
        }
        let (by_rule, by_state, by_severity) = (
            grouped.pop().unwrap_or_default(),
            grouped.pop().unwrap_or_default(),
            grouped.pop().unwrap_or_default(),
        );
        let mut days = Sql::new("SELECT created_at / 86400 AS k, COUNT(*) AS n FROM alerts");
        period(&mut days);
        days.push(" GROUP BY created_at / 86400 ORDER BY k");
        let by_day = days
            .fetch_all(backend, self.pool())
            .await?
            .iter()
            .map(|row| {
                Ok(Count {
                    key: dmarc_core::rollup::format_day(row.try_get("k")?),
                    count: count(row)?,
                })
            })
            .collect::<Result<_>>()?;
        let sum = |expression: &str, name: &str| {
            format!("CAST(COALESCE(SUM({expression}), 0) AS BIGINT) AS {name}")
        };
        let mut means = Sql::new(&format!(
            "SELECT COUNT(*) AS total, {}, {}, {}, {}, {} FROM alerts",
            sum("CASE WHEN state <> 'suppressed' THEN 1 ELSE 0 END", "sent"),
            sum(
                "CASE WHEN acknowledged_at IS NOT NULL THEN 1 ELSE 0 END",
                "acked"
            ),
            sum("acknowledged_at - created_at", "ack_seconds"),
            sum(
                "CASE WHEN resolved_at IS NOT NULL THEN 1 ELSE 0 END",
                "resolved"
            ),
            sum("resolved_at - created_at", "resolve_seconds"),
        ));
        period(&mut means);
        let rows = means.fetch_all(backend, self.pool()).await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("no alert totals".into()))?;
        let int = |name: &str| -> Result<i64> { Ok(row.try_get::<i64, _>(name)?) };
        let mean = |sum: i64, n: i64| (n > 0).then(|| sum as f64 / n as f64);
        Ok(AlertStats {
            total: u64::try_from(int("total")?).unwrap_or_default(),
            by_severity,
            by_state,
            by_rule,
            by_day,
            mean_seconds_to_acknowledge: mean(int("ack_seconds")?, int("acked")?),
            mean_seconds_to_resolve: mean(int("resolve_seconds")?, int("resolved")?),
            acknowledged_share: mean(int("acked")?, int("sent")?),
        })
    }

    /// One alert.
    pub async fn alert(&self, id: i64) -> Result<Option<Alert>> {
        let rows = Sql::new(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1"))
            .bind(Arg::Int(id))
            .fetch_all(self.backend(), self.pool())
            .await?;
        rows.first().map(alert_from).transpose()
    }

    /// Moves an alert to `to` (`acknowledged` from `created`; `resolved` from `created`
    /// or `acknowledged`) by `by` at `at`. `None` when there is no such alert; a conflict
    /// when it is not in a state that allows the move.
    pub async fn move_alert(
        &self,
        id: i64,
        to: AlertState,
        by: &str,
        at: i64,
    ) -> Result<Option<Alert>> {
        let (set, from) = match to {
            AlertState::Acknowledged => (
                "state = 'acknowledged', acknowledged_at = $1, acknowledged_by = $2",
                "state = 'created'",
            ),
            AlertState::Resolved => (
                "state = 'resolved', resolved_at = $1, resolved_by = $2",
                OPEN,
            ),
            other => {
                return Err(StoreError::Conflict(format!(
                    "an alert cannot be moved to {}",
                    other.as_str()
                )));
            }
        };
        let rows = Sql::new(&format!(
            "UPDATE alerts SET {set} WHERE id = $3 AND {from} RETURNING {ALERT_COLUMNS}"
        ))
        .bind(Arg::Int(at))
        .bind(Arg::Text(by.to_owned()))
        .bind(Arg::Int(id))
        .fetch_all(self.backend(), self.pool())
        .await?;
        if let Some(row) = rows.first() {
            return alert_from(row).map(Some);
        }
        match self.alert(id).await? {
            None => Ok(None),
            Some(alert) => Err(StoreError::Conflict(format!(
                "alert {id} is {}; it cannot become {}",
                alert.state.as_str(),
                to.as_str()
            ))),
        }
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
