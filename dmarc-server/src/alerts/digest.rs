//! The digest: for the `days` before a time, per domain the DMARC pass rate and its change
//! against the `days` before that, the addresses new to the domain, the top failing
//! addresses and the open alerts; rendered as an e-mail (plain text and HTML). All figures
//! come from the rollups, so they equal what the dashboard shows for the same period.

use std::net::IpAddr;

use dmarc_core::{Filter, Verdict};
use dmarc_store::{AlertFilter, AlertState, Page, Store, StoreError};
use serde::Serialize;

use super::messages::{Email, html_escape};
use super::newcomers::{busiest, unseen};
use super::{DAY, before, share, time};
use crate::config::AlertsConfig;

/// Days before the period an address must not have been seen in to be new.
pub const NEW_SOURCE_LOOKBACK_DAYS: u64 = 30;
/// The busiest addresses of a domain checked for being new.
const NEW_SOURCE_CANDIDATES: u32 = 200;
/// Addresses listed per domain (new ones, failing ones).
const LISTED: u32 = 5;
/// Open alerts listed.
const OPEN_LISTED: u32 = 20;

/// An address and its messages.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct SourceLine {
    /// The address.
    #[schema(value_type = String)]
    pub source_ip: IpAddr,
    /// Its messages in the period (failing ones, in the failing list).
    pub messages: u64,
}

/// One domain's part of the digest.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct DomainDigest {
    /// The policy domain.
    pub domain: String,
    /// Messages reported in the period.
    pub messages: u64,
    /// Of which passed DMARC.
    pub dmarc_pass: u64,
    /// Of which failed DMARC.
    pub dmarc_fail: u64,
    /// The share that passed (0 to 1), when there were messages.
    pub pass_rate: Option<f64>,
    /// Messages in the period before.
    pub previous_messages: u64,
    /// The pass rate in the period before, when there were messages.
    pub previous_pass_rate: Option<f64>,
    /// `pass_rate - previous_pass_rate` in percentage points, when both exist.
    pub change_points: Option<f64>,
    /// Addresses that sent in the period and not in the 30 days before, busiest first
    /// (at most 5; among the 200 busiest addresses).
    pub new_sources: Vec<SourceLine>,
    /// How many addresses are new (among the 200 busiest).
    pub new_source_count: u64,
    /// The addresses with the most failing messages (at most 5).
    pub top_failing: Vec<SourceLine>,
    /// Open alerts about the domain.
    pub open_alerts: u64,
}

/// An open alert, as the digest lists it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct OpenAlert {
    /// The alert.
    pub id: i64,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// `created` or `acknowledged`.
    pub state: String,
    /// What it says.
    pub summary: String,
    /// When it was raised (UTC seconds).
    pub created_at: i64,
}

/// The digest of a period.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct Digest {
    /// The period: reports ending after `from` (UTC seconds, exclusive) and beginning
    /// before `to`.
    pub from: i64,
    /// Its end (UTC seconds).
    pub to: i64,
    /// Its length in days; the period before is as long.
    pub days: u32,
    /// Domains with reports in the period or the one before, by name.
    pub domains: Vec<DomainDigest>,
    /// Open alerts (created or acknowledged), newest first (at most 20).
    pub open_alerts: Vec<OpenAlert>,
    /// How many alerts are open.
    pub open_alert_count: u64,
}

impl Digest {
    /// Nothing to report: no failing message, no new address and no open alert.
    pub fn is_clean(&self) -> bool {
        self.open_alert_count == 0
            && self
                .domains
                .iter()
                .all(|d| d.dmarc_fail == 0 && d.new_source_count == 0)
    }
}

/// The digest of the `days` days before `to` (UTC seconds).
pub async fn build(store: &Store, to: i64, days: u32) -> Result<Digest, StoreError> {
    let period = Filter {
        from: Some(to - i64::from(days) * DAY + 1),
        to: Some(to),
        ..Filter::default()
    };
    let previous = store.by_domain(&before(&period, u64::from(days))).await?;
    let current = store.by_domain(&period).await?;
    let mut names: Vec<&String> = current.iter().chain(&previous).map(|g| &g.key).collect();
    names.sort();
    names.dedup();

    let open = open_alerts(store).await?;
    let mut domains = Vec::with_capacity(names.len());
    for name in names {
        let tally = current
            .iter()
            .find(|g| &g.key == name)
            .map(|g| g.tally)
            .unwrap_or_default();
        let earlier = previous
            .iter()
            .find(|g| &g.key == name)
            .map(|g| g.tally)
            .unwrap_or_default();
        let rate = |pass: u64, all: u64| (all > 0).then(|| share(pass, all));
        let pass_rate = rate(tally.dmarc_pass, tally.messages);
        let previous_pass_rate = rate(earlier.dmarc_pass, earlier.messages);
        let scoped = Filter {
            domains: vec![name.clone()],
            ..period.clone()
        };
        let (new_sources, new_source_count) = if tally.messages == 0 {
            (Vec::new(), 0)
        } else {
            let candidates = busiest(store, &scoped, NEW_SOURCE_CANDIDATES).await?;
            let earlier = Filter {
                domains: vec![name.to_owned()],
                ..before(&scoped, NEW_SOURCE_LOOKBACK_DAYS)
            };
            let new = unseen(store, &earlier, candidates).await?;
            let count = new.len() as u64;
            (lines(new.into_iter().take(LISTED as usize)), count)
        };
        let top_failing = if tally.dmarc_fail == 0 {
            Vec::new()
        } else {
            let failing = Filter {
                dkim: Some(Verdict::Fail),
                spf: Some(Verdict::Fail),
                ..scoped.clone()
            };
            let top = store.by_source(&failing, Page::first(LISTED)).await?;
            lines(
                top.items
                    .into_iter()
                    .filter_map(|s| s.source_ip.map(|ip| (ip, s.tally.messages))),
            )
        };
        domains.push(DomainDigest {
            domain: name.clone(),
            messages: tally.messages,
            dmarc_pass: tally.dmarc_pass,
            dmarc_fail: tally.dmarc_fail,
            pass_rate,
            previous_messages: earlier.messages,
            previous_pass_rate,
            change_points: pass_rate
                .zip(previous_pass_rate)
                .map(|(now, then)| 100.0 * (now - then)),
            new_sources,
            new_source_count,
            top_failing,
            open_alerts: open
                .iter()
                .filter(|a| a.domain.as_deref() == Some(name.as_str()))
                .count() as u64,
        });
    }
    let open_alert_count = open.len() as u64;
    let mut listed: Vec<OpenAlert> = open
        .into_iter()
        .map(|a| OpenAlert {
            id: a.id,
            severity: a.severity,
            state: a.state.as_str().to_owned(),
            summary: a.summary,
            created_at: a.created_at,
        })
        .collect();
    listed.sort_by_key(|a| std::cmp::Reverse((a.created_at, a.id)));
    listed.truncate(OPEN_LISTED as usize);
    Ok(Digest {
        from: to - i64::from(days) * DAY,
        to,
        days,
        domains,
        open_alerts: listed,
        open_alert_count,
    })
}

/// What sending a digest did.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct DigestSent {
    /// The digest.
    pub digest: Digest,
    /// It went out: the SMTP server accepted it.
    pub sent: bool,
    /// Why it was not sent on purpose (nothing to report, no e-mail channel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Why sending it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The recipients.
    pub recipients: Vec<String>,
    /// The SMTP server's reply code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
}

/// Builds the digest of the `days` before `to` and e-mails it to the digest recipients,
/// unless it is clean and `config.digest_when_clean` is off (and `always` is false).
pub async fn send(
    store: &Store,
    config: &AlertsConfig,
    to: i64,
    days: u32,
    always: bool,
) -> Result<DigestSent, StoreError> {
    let digest = build(store, to, days).await?;
    let recipients: Vec<String> = config
        .digest_recipients()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let not_sent = |digest, reason: &str| DigestSent {
        digest,
        sent: false,
        skipped: Some(reason.to_owned()),
        error: None,
        recipients: recipients.clone(),
        status_code: None,
    };
    if config.address("email").is_none() {
        return Ok(not_sent(
            digest,
            "the email channel is not configured (alerts.smtp_url)",
        ));
    }
    if digest.is_clean() && !config.digest_when_clean && !always {
        return Ok(not_sent(
            digest,
            "nothing to report: no failing message, no new address, no open alert",
        ));
    }
    let targets: Vec<&str> = recipients.iter().map(String::as_str).collect();
    let outcome = super::email::send(config, &targets, &email(&digest)).await;
    Ok(DigestSent {
        sent: outcome.error.is_none(),
        skipped: None,
        error: outcome.error,
        status_code: outcome.status,
        recipients,
        digest,
    })
}

fn lines(sources: impl IntoIterator<Item = (IpAddr, u64)>) -> Vec<SourceLine> {
    sources
        .into_iter()
        .map(|(source_ip, messages)| SourceLine {
            source_ip,
            messages,
        })
        .collect()
}

/// Every open alert (created or acknowledged).
async fn open_alerts(store: &Store) -> Result<Vec<dmarc_store::Alert>, StoreError> {
    let mut out = Vec::new();
    for state in [AlertState::Created, AlertState::Acknowledged] {
        let filter = AlertFilter {
            state: Some(state),
            ..AlertFilter::default()
        };
        let mut offset = 0;
        loop {
            let page = store.alerts(&filter, Page { limit: 500, offset }).await?;
            let got = page.items.len() as u64;
            out.extend(page.items);
            offset += got;
            if got == 0 || offset >= page.total {
                break;
            }
        }
    }
    Ok(out)
}

/// A share as `97.5 %`, or `-` when there were no messages.
fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".to_owned(), |r| format!("{:.1} %", 100.0 * r))
}

/// A change in percentage points as `+1.2 pts`, or `-`.
fn points(change: Option<f64>) -> String {
    change.map_or_else(|| "-".to_owned(), |c| format!("{c:+.1} pts"))
}

fn addresses(sources: &[SourceLine]) -> String {
    if sources.is_empty() {
        return "none".to_owned();
    }
    sources
        .iter()
        .map(|s| format!("{} ({})", s.source_ip, s.messages))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many addresses are new, and the first of them: `none`, or `7: 192.0.2.1 (4), ...`.
fn new_addresses(d: &DomainDigest) -> String {
    if d.new_source_count == 0 {
        return "none".to_owned();
    }
    let more = if d.new_source_count > d.new_sources.len() as u64 {
        ", ..."
    } else {
        ""
    };
    format!(
        "{}: {}{more}",
        d.new_source_count,
        addresses(&d.new_sources)
    )
}

/// The digest as an e-mail. Domain names and alert summaries come from reports anyone can
/// send: they are escaped in the HTML, and the subject holds none of them.
pub fn email(digest: &Digest) -> Email {
    let (first, last) = (time(digest.from), time(digest.to));
    let subject = format!(
        "[dmarc] Digest of the {} days to {last}: {} domains, {} open alerts",
        digest.days,
        digest.domains.len(),
        digest.open_alert_count
    );
    let mut text = format!(
        "DMARC digest for {first} to {last} ({} days, compared with the {} days before).\n\n",
        digest.days, digest.days
    );
    let mut html = format!(
        "<!doctype html><html><body><h1>DMARC digest</h1><p>{first} to {last} ({} days, compared with the {} days before).</p>\
         <table border=\"1\" cellpadding=\"4\" cellspacing=\"0\"><thead><tr><th>Domain</th><th>Messages</th><th>Failing</th>\
         <th>Pass rate</th><th>Change</th><th>New addresses</th><th>Top failing addresses</th><th>Open alerts</th></tr></thead><tbody>",
        digest.days, digest.days
    );
    for d in &digest.domains {
        text.push_str(&format!(
            "{}\n  messages: {}, failing: {}\n  pass rate: {} (before: {}, change: {})\n  new addresses: {}\n  top failing addresses: {}\n  open alerts: {}\n\n",
            d.domain,
            d.messages,
            d.dmarc_fail,
            percent(d.pass_rate),
            percent(d.previous_pass_rate),
            points(d.change_points),
            new_addresses(d),
            addresses(&d.top_failing),
            d.open_alerts
        ));
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&d.domain),
            d.messages,
            d.dmarc_fail,
            percent(d.pass_rate),
            points(d.change_points),
            new_addresses(d),
            addresses(&d.top_failing),
            d.open_alerts
        ));
    }
    html.push_str("</tbody></table>");
    text.push_str(&format!("Open alerts: {}\n", digest.open_alert_count));
    html.push_str(&format!(
        "<h2>Open alerts: {}</h2><ul>",
        digest.open_alert_count
    ));
    for a in &digest.open_alerts {
        text.push_str(&format!(
            "  #{} {} ({}): {}\n",
            a.id, a.severity, a.state, a.summary
        ));
        html.push_str(&format!(
            "<li>#{} {} ({}): {}</li>",
            a.id,
            html_escape(&a.severity),
            html_escape(&a.state),
            html_escape(&a.summary)
        ));
    }
    html.push_str("</ul></body></html>");
    Email {
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(fail: u64, new: u64, open: u64) -> Digest {
        Digest {
            from: 1_700_000_000 - 7 * DAY,
            to: 1_700_000_000,
            days: 7,
            domains: vec![DomainDigest {
                domain: "<b>example.com</b>".into(),
                messages: 200,
                dmarc_pass: 200 - fail,
                dmarc_fail: fail,
                pass_rate: Some(share(200 - fail, 200)),
                previous_messages: 100,
                previous_pass_rate: Some(1.0),
                change_points: Some(100.0 * (share(200 - fail, 200) - 1.0)),
                new_sources: Vec::new(),
                new_source_count: new,
                top_failing: vec![SourceLine {
                    source_ip: "192.0.2.1".parse().unwrap(),
                    messages: fail,
                }],
                open_alerts: open,
            }],
            open_alerts: Vec::new(),
            open_alert_count: open,
        }
    }

    #[test]
    fn clean_means_no_failure_no_new_address_no_open_alert() {
        assert!(digest(0, 0, 0).is_clean());
        assert!(!digest(1, 0, 0).is_clean());
        assert!(!digest(0, 1, 0).is_clean());
        assert!(!digest(0, 0, 1).is_clean());
    }

    #[test]
    fn the_email_shows_the_figures_and_escapes_report_text() {
        let mail = email(&digest(10, 0, 0));
        assert_eq!(
            mail.subject,
            "[dmarc] Digest of the 7 days to 2023-11-14 22:13 UTC: 1 domains, 0 open alerts"
        );
        assert!(
            mail.text
                .contains("pass rate: 95.0 % (before: 100.0 %, change: -5.0 pts)"),
            "{}",
            mail.text
        );
        assert!(mail.text.contains("top failing addresses: 192.0.2.1 (10)"));
        assert!(mail.text.contains("new addresses: none\n"));
        let mut with_new = digest(0, 7, 0);
        with_new.domains[0].new_sources = with_new.domains[0].top_failing.clone();
        assert!(
            email(&with_new)
                .text
                .contains("new addresses: 7: 192.0.2.1 (0), ...\n")
        );
        assert!(mail.html.contains("&lt;b&gt;example.com&lt;/b&gt;"));
        assert!(!mail.html.contains("<b>example.com"));
    }
}
