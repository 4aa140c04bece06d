//! Alert rules and their evaluation: each kind's parameters (checked when a rule is
//! saved), and what a rule finds in the stored data at a given time. The store applies the
//! lifecycle ([`Store::record_findings`]): one open alert per fingerprint, the cooldown,
//! suppressions, auto-resolve. Evaluation is deterministic: the same data and time give the
//! same findings.

use dmarc_core::Filter;
use dmarc_store::{AlertRule, Finding, Page, Recorded, RuleSettings, Store, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod anomaly;
pub mod delivery;
pub mod digest;
pub mod email;
pub mod messages;
pub mod newcomers;
pub mod webhooks;

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
/// The longest window a rule may look back over: 20 years (old reports are replayed).
const MAX_HOURS: u64 = 20 * 366 * 24;
/// Severities, least first.
pub const SEVERITIES: [&str; 3] = ["info", "warning", "critical"];
/// Channels a rule may name.
pub const CHANNELS: [&str; 4] = ["teams", "slack", "discord", "email"];
/// Most candidate addresses a `new_source` rule checks per domain and evaluation.
const NEW_SOURCE_CANDIDATES: u32 = 1_000;

/// A rule's condition: its kind with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The DMARC failure share over the window is above `threshold`, with at least
    /// `min_messages` messages.
    FailureRate {
        /// 0 to 1.
        threshold: f64,
        /// Hours back from the evaluation.
        window_hours: u64,
        /// Fewer messages never fire.
        min_messages: u64,
    },
    /// Messages in the window are above `factor` x the average of the same length over the
    /// `baseline_days` before it.
    VolumeSpike {
        /// Above 1.
        factor: f64,
        /// Hours back from the evaluation.
        window_hours: u64,
        /// Days before the window.
        baseline_days: u64,
        /// Fewer messages never fire.
        min_messages: u64,
    },
    /// An address not seen for the domain in the `lookback_days` before the window sends
    /// more than `min_failing` failing messages in it.
    NewSource(newcomers::Params),
    /// A network (ASN, from geolocation) none of whose addresses was seen for the domain
    /// in the `lookback_days` before the window sends more than `min_failing` failing
    /// messages in it.
    NewNetwork(newcomers::Params),
    /// No report for the domain (its latest period end) for more than `hours`.
    MissingReports {
        /// Hours.
        hours: u64,
    },
    /// The published policy (p, sp, pct, adkim, aspf, np) in the latest report of the
    /// window differs from the latest report before it.
    PolicyChange {
        /// Hours back from the evaluation.
        window_hours: u64,
    },
    /// A detection run of the last `window_hours` found a source anomalous with a score of
    /// at least `min_score` (runs over the rule's domain, or over every domain).
    Anomaly {
        /// Hours back from the evaluation.
        window_hours: u64,
        /// 0.5 (the model's threshold) to 1.
        min_score: f64,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnomalyParams {
    #[serde(default = "twenty_four")]
    window_hours: u64,
    #[serde(default = "half")]
    min_score: f64,
}

fn half() -> f64 {
    0.5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailureRateParams {
    threshold: f64,
    window_hours: u64,
    #[serde(default = "one")]
    min_messages: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VolumeSpikeParams {
    factor: f64,
    window_hours: u64,
    #[serde(default = "seven")]
    baseline_days: u64,
    #[serde(default = "one")]
    min_messages: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSourceParams {
    window_hours: u64,
    #[serde(default = "thirty")]
    lookback_days: u64,
    #[serde(default)]
    min_failing: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MissingReportsParams {
    hours: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyChangeParams {
    #[serde(default = "twenty_four")]
    window_hours: u64,
}

fn one() -> u64 {
    1
}
fn seven() -> u64 {
    7
}
fn thirty() -> u64 {
    30
}
fn twenty_four() -> u64 {
    24
}

/// Reads `params` as `T`, naming the kind in the error.
fn params<T: DeserializeOwned>(kind: &str, params: &Value) -> Result<T, String> {
    serde_json::from_value(params.clone()).map_err(|e| format!("params of {kind}: {e}"))
}

fn hours(name: &str, value: u64) -> Result<u64, String> {
    if (1..=MAX_HOURS).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{name} must be 1 to {MAX_HOURS} hours"))
    }
}

fn days(name: &str, value: u64) -> Result<u64, String> {
    if (1..=MAX_HOURS / 24).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{name} must be 1 to {} days", MAX_HOURS / 24))
    }
}

impl Condition {
    /// The condition of a rule of `kind` with `params`, or why it is refused.
    pub fn parse(kind: &str, raw: &Value) -> Result<Condition, String> {
        Ok(match kind {
            "failure_rate" => {
                let p: FailureRateParams = params(kind, raw)?;
                if !(0.0..1.0).contains(&p.threshold) {
                    return Err("threshold must be at least 0 and below 1 (a share)".into());
                }
                Condition::FailureRate {
                    threshold: p.threshold,
                    window_hours: hours("window_hours", p.window_hours)?,
                    min_messages: p.min_messages,
                }
            }
            "volume_spike" => {
                let p: VolumeSpikeParams = params(kind, raw)?;
                if !(p.factor > 1.0 && p.factor.is_finite()) {
                    return Err("factor must be above 1".into());
                }
                Condition::VolumeSpike {
                    factor: p.factor,
                    window_hours: hours("window_hours", p.window_hours)?,
                    baseline_days: days("baseline_days", p.baseline_days)?,
                    min_messages: p.min_messages,
                }
            }
            "new_source" | "new_network" => {
                let p: NewSourceParams = params(kind, raw)?;
                let p = newcomers::Params {
                    window_hours: hours("window_hours", p.window_hours)?,
                    lookback_days: days("lookback_days", p.lookback_days)?,
                    min_failing: p.min_failing,
                };
                if kind == "new_source" {
                    Condition::NewSource(p)
                } else {
                    Condition::NewNetwork(p)
                }
            }
            "missing_reports" => {
                let p: MissingReportsParams = params(kind, raw)?;
                Condition::MissingReports {
                    hours: hours("hours", p.hours)?,
                }
            }
            "policy_change" => {
                let p: PolicyChangeParams = params(kind, raw)?;
                Condition::PolicyChange {
                    window_hours: hours("window_hours", p.window_hours)?,
                }
            }
            "anomaly" => {
                let p: AnomalyParams = params(kind, raw)?;
                if !(0.0..=1.0).contains(&p.min_score) {
                    return Err("min_score must be between 0 and 1".into());
                }
                Condition::Anomaly {
                    window_hours: hours("window_hours", p.window_hours)?,
                    min_score: p.min_score,
                }
            }
            other => {
                return Err(format!(
                    "unknown kind {other:?}: failure_rate, volume_spike, new_source, new_network, missing_reports, policy_change or anomaly"
                ));
            }
        })
    }
}

/// A rule as scripts send it (`POST /alerts/rules`, and `PATCH` with the fields to change).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    /// Unique name.
    pub name: String,
    /// `failure_rate`, `volume_spike`, `new_source`, `new_network`, `missing_reports`,
    /// `policy_change` or `anomaly`.
    pub kind: String,
    /// A policy domain; absent or null: every domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// The kind's parameters: `failure_rate` {threshold (0-1), window_hours, min_messages};
    /// `volume_spike` {factor (> 1), window_hours, baseline_days (7), min_messages};
    /// `new_source` and `new_network` {window_hours, lookback_days (30), min_failing (0)};
    /// `missing_reports` {hours}; `policy_change` {window_hours (24)}; `anomaly`
    /// {window_hours (24), min_score (0.5)}.
    #[schema(value_type = Object)]
    #[serde(default = "empty_object")]
    pub params: Value,
    /// Minutes without a new alert for the same subject (default 60).
    #[serde(default = "sixty")]
    pub cooldown_minutes: i64,
    /// Minutes the condition must have cleared before an open alert resolves itself
    /// (default 1,440: a day).
    #[serde(default = "a_day")]
    pub auto_resolve_minutes: i64,
    /// `teams`, `slack`, `discord`, `email` (default none).
    #[serde(default)]
    pub channels: Vec<String>,
    /// Evaluated when true (default).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn empty_object() -> Value {
    json!({})
}
fn sixty() -> i64 {
    60
}
fn a_day() -> i64 {
    1_440
}
fn yes() -> bool {
    true
}

impl RuleRequest {
    /// The stored settings, or why the rule is refused.
    pub fn settings(&self) -> Result<RuleSettings, String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err("name must have 1 to 100 characters".into());
        }
        Condition::parse(&self.kind, &self.params)?;
        if !SEVERITIES.contains(&self.severity.as_str()) {
            return Err("severity must be info, warning or critical".into());
        }
        let minutes = 0..=(MAX_HOURS as i64 * 60);
        if !minutes.contains(&self.cooldown_minutes)
            || !minutes.contains(&self.auto_resolve_minutes)
        {
            return Err("cooldown_minutes and auto_resolve_minutes must be 0 to 20 years".into());
        }
        let mut channels = Vec::new();
        for channel in &self.channels {
            if !CHANNELS.contains(&channel.as_str()) {
                return Err(format!(
                    "unknown channel {channel:?}: teams, slack, discord or email"
                ));
            }
            if !channels.contains(channel) {
                channels.push(channel.clone());
            }
        }
        let domain = match self.domain.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(d) if d.len() <= 253 => Some(d.to_ascii_lowercase()),
            Some(_) => return Err("domain is longer than 253 characters".into()),
        };
        Ok(RuleSettings {
            name: name.to_owned(),
            kind: self.kind.clone(),
            domain,
            severity: self.severity.clone(),
            params: self.params.clone(),
            cooldown_minutes: self.cooldown_minutes,
            auto_resolve_minutes: self.auto_resolve_minutes,
            channels,
            enabled: self.enabled,
        })
    }
}

/// The fingerprint of `subject` under `rule`: SHA-256 (hex) of both.
pub fn fingerprint(rule: &AlertRule, subject: &str) -> String {
    hex::encode(Sha256::digest(format!("{}\n{subject}", rule.id)))
}

fn finding(
    rule: &AlertRule,
    subject: String,
    domain: &str,
    summary: String,
    detail: Value,
) -> Finding {
    Finding {
        fingerprint: fingerprint(rule, &subject),
        subject,
        domain: Some(domain.to_owned()),
        summary,
        detail,
    }
}

/// The reports of the `hours` before `at`, for the rule's domain: those that begin before
/// `at` and end after its start. A report ending exactly at the start belongs to the
/// period before (see [`before`]), so no report counts in both.
fn window(rule: &AlertRule, at: i64, hours: u64) -> Filter {
    Filter {
        domains: rule.domain.iter().cloned().collect(),
        from: Some(start(at, hours) + 1),
        to: Some(at),
        ..Filter::default()
    }
}

/// The start of the window of `hours` before `at`.
fn start(at: i64, hours: u64) -> i64 {
    at - hours as i64 * HOUR
}

/// The reports of the `days` before `window`: they begin before its start.
fn before(window: &Filter, days: u64) -> Filter {
    let start = window.from.map_or(0, |from| from - 1);
    Filter {
        from: Some(start - days as i64 * DAY + 1),
        to: Some(start),
        ..window.clone()
    }
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// What `rule` finds in the data at `at` (UTC seconds).
pub async fn evaluate(
    store: &Store,
    rule: &AlertRule,
    at: i64,
) -> Result<Vec<Finding>, StoreError> {
    let condition = Condition::parse(&rule.kind, &rule.params).map_err(StoreError::Corrupt)?;
    let mut out = Vec::new();
    match condition {
        Condition::FailureRate {
            threshold,
            window_hours,
            min_messages,
        } => {
            for group in store.by_domain(&window(rule, at, window_hours)).await? {
                let t = group.tally;
                let rate = share(t.dmarc_fail, t.messages);
                if t.messages >= min_messages && rate > threshold {
                    out.push(finding(
                        rule,
                        group.key.clone(),
                        &group.key,
                        format!(
                            "{}: {:.1} % of {} messages failed DMARC in the last {window_hours} h (threshold {:.1} %)",
                            group.key,
                            100.0 * rate,
                            t.messages,
                            100.0 * threshold
                        ),
                        json!({ "messages": t.messages, "failing": t.dmarc_fail, "rate": rate,
                                "threshold": threshold, "window_hours": window_hours }),
                    ));
                }
            }
        }
        Condition::VolumeSpike {
            factor,
            window_hours,
            baseline_days,
            min_messages,
        } => {
            let now = window(rule, at, window_hours);
            let baseline = store.by_domain(&before(&now, baseline_days)).await?;
            for group in store.by_domain(&now).await? {
                let messages = group.tally.messages;
                let Some(base) = baseline.iter().find(|b| b.key == group.key) else {
                    continue;
                };
                // The baseline's average over a window of the same length.
                let usual = base.tally.messages as f64 * window_hours as f64
                    / (baseline_days as f64 * 24.0);
                if messages >= min_messages && messages as f64 > factor * usual {
                    out.push(finding(
                        rule,
                        group.key.clone(),
                        &group.key,
                        format!(
                            "{}: {messages} messages in the last {window_hours} h, {:.1} x the usual {:.0}",
                            group.key,
                            messages as f64 / usual,
                            usual
                        ),
                        json!({ "messages": messages, "usual": usual, "factor": factor,
                                "window_hours": window_hours, "baseline_days": baseline_days }),
                    ));
                }
            }
        }
        Condition::NewSource(p) => out.extend(newcomers::new_sources(store, rule, at, p).await?),
        Condition::NewNetwork(p) => out.extend(newcomers::new_networks(store, rule, at, p).await?),
        Condition::MissingReports { hours } => {
            for info in store.domains().await? {
                if rule.domain.as_ref().is_some_and(|d| *d != info.domain) {
                    continue;
                }
                let silent = at - info.last_end;
                if silent > hours as i64 * HOUR {
                    out.push(finding(
                        rule,
                        info.domain.clone(),
                        &info.domain,
                        format!(
                            "{}: no report for {} h (the latest period ended {})",
                            info.domain,
                            silent / HOUR,
                            time(info.last_end)
                        ),
                        json!({ "last_end": info.last_end, "hours": hours }),
                    ));
                }
            }
        }
        Condition::Anomaly {
            window_hours,
            min_score,
        } => out.extend(anomaly::findings(store, rule, at, window_hours, min_score).await?),
        Condition::PolicyChange { window_hours } => {
            let now = window(rule, at, window_hours);
            for group in store.by_domain(&now).await? {
                let domain = group.key;
                let scoped = Filter {
                    domains: vec![domain.clone()],
                    ..now.clone()
                };
                let earlier = Filter {
                    from: None,
                    to: Some(start(at, window_hours)),
                    ..scoped.clone()
                };
                let (Some(after), Some(before)) = (
                    latest_policy(store, &scoped).await?,
                    latest_policy(store, &earlier).await?,
                ) else {
                    continue;
                };
                if after != before {
                    out.push(finding(
                        rule,
                        format!("{domain} {after}"),
                        &domain,
                        format!("{domain}: the published policy changed from {before} to {after}"),
                        json!({ "before": before, "after": after, "window_hours": window_hours }),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// UTC seconds as `YYYY-MM-DD HH:MM UTC`.
fn time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).map_or_else(
        || seconds.to_string(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// The published policy of the newest report the filter selects, as
/// `p=...; sp=...; pct=...; adkim=...; aspf=...; np=...` (absent tags as `-`).
async fn latest_policy(store: &Store, filter: &Filter) -> Result<Option<String>, StoreError> {
    let Some(summary) = store
        .reports(filter, Page::first(1))
        .await?
        .items
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let Some(stored) = store.report(summary.id, Page::first(1)).await? else {
        return Ok(None);
    };
    let p = stored.report.policy_published;
    let tag = |v: Option<&str>| v.unwrap_or("-").to_owned();
    Ok(Some(format!(
        "p={}; sp={}; pct={}; adkim={}; aspf={}; np={}",
        tag(p.p.as_ref().map(|d| d.as_str())),
        tag(p.sp.as_ref().map(|d| d.as_str())),
        p.pct.map_or_else(|| "-".to_owned(), |v| v.to_string()),
        tag(p.adkim.as_ref().map(|a| a.as_str())),
        tag(p.aspf.as_ref().map(|a| a.as_str())),
        tag(p.np.as_ref().map(|d| d.as_str())),
    )))
}

/// What one evaluation of every enabled rule did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EvaluationSummary {
    /// Rules evaluated.
    pub rules: u64,
    /// New alerts (to be sent).
    pub created: u64,
    /// New alerts held back by a suppression window.
    pub suppressed: u64,
    /// Findings with an open alert already, or within the cooldown.
    pub repeated: u64,
    /// Alerts resolved because their condition cleared.
    pub resolved: u64,
    /// Rules whose evaluation failed, with the reason.
    pub failed: Vec<String>,
}

/// Evaluates every enabled rule at `at` and records what they found: the summary, and the
/// new alerts of each rule (to send).
pub async fn evaluate_all(
    store: &Store,
    at: i64,
) -> Result<(EvaluationSummary, Vec<(AlertRule, Recorded)>), StoreError> {
    let mut summary = EvaluationSummary::default();
    let mut recorded = Vec::new();
    for rule in store.alert_rules().await?.into_iter().filter(|r| r.enabled) {
        summary.rules += 1;
        // One rule failing (a read over its time limit) never stops the others.
        let findings = match evaluate(store, &rule, at).await {
            Ok(findings) => findings,
            Err(e) => {
                summary.failed.push(format!("{}: {e}", rule.name));
                continue;
            }
        };
        let done = store.record_findings(&rule, &findings, at).await?;
        summary.created += done.created.len() as u64;
        summary.suppressed += done.suppressed.len() as u64;
        summary.repeated += done.repeated;
        summary.resolved += done.resolved.len() as u64;
        recorded.push((rule, done));
    }
    Ok((summary, recorded))
}
