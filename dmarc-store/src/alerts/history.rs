//! What happens to alerts: findings recorded under the lifecycle rules, the history, the
//! moves people make (acknowledge, resolve), and the analytics.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{
    ALERT_COLUMNS, Alert, AlertFilter, AlertRule, AlertState, AlertStats, Count, Finding, OPEN,
    Recorded, alert_from,
};
use crate::query::{Arg, Sql};
use crate::store::Store;
use crate::types::{Page, Paged};
use crate::{Result, StoreError};

impl Store {
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
        self.newest_first("alerts", ALERT_COLUMNS, conditions, page, alert_from)
            .await
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
}
