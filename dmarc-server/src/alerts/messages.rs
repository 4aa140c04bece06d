//! What an alert looks like on each channel, in the format each service documents:
//! Microsoft Teams (a Workflows webhook receiving a message with an Adaptive Card), Slack
//! (incoming webhook, Block Kit), Discord (webhook, embeds) and e-mail (plain text and
//! HTML). Alert text comes from reports, which anyone can send: it is escaped for each
//! format, and Discord is told to ping nobody.

use dmarc_store::Alert;
use serde_json::{Value, json};

/// The severity in capitals, as a subject line shows it.
fn severity(alert: &Alert) -> String {
    alert.severity.to_ascii_uppercase()
}

/// UTC seconds as RFC 3339.
fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map_or_else(String::new, |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// At most `max` characters, with `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The facts every format shows: (label, value).
fn facts(alert: &Alert) -> Vec<(&'static str, String)> {
    vec![
        ("Severity", alert.severity.clone()),
        ("Rule", alert.rule_name.clone()),
        ("Subject", alert.subject.clone()),
        ("Raised", rfc3339(alert.created_at)),
        ("Alert", format!("#{}", alert.id)),
    ]
}

/// A Teams Workflows webhook body: a message with one Adaptive Card (1.4).
pub fn teams(alert: &Alert) -> Value {
    let facts: Vec<Value> = facts(alert)
        .into_iter()
        .map(|(title, value)| json!({ "title": title, "value": value }))
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    { "type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true,
                      "text": format!("DMARC alert ({}): {}", severity(alert), alert.rule_name) },
                    { "type": "TextBlock", "wrap": true, "text": alert.summary },
                    { "type": "FactSet", "facts": facts },
                ],
            },
        }],
    })
}

/// Slack's `mrkdwn` with `&`, `<` and `>` escaped, as Slack asks.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack incoming-webhook body: a fallback text and Block Kit blocks.
pub fn slack(alert: &Alert) -> Value {
    let fields: Vec<Value> = facts(alert)
        .into_iter()
        .map(|(label, value)| {
            json!({ "type": "mrkdwn", "text": format!("*{label}*\n{}", slack_escape(&value)) })
        })
        .collect();
    json!({
        "text": clip(&format!("DMARC alert ({}): {}", severity(alert), alert.summary), 3_000),
        "blocks": [
            { "type": "header", "text": { "type": "plain_text",
              "text": clip(&format!("DMARC alert ({}): {}", severity(alert), alert.rule_name), 150) } },
            { "type": "section", "text": { "type": "mrkdwn", "text": clip(&slack_escape(&alert.summary), 3_000) } },
            { "type": "section", "fields": fields },
        ],
    })
}

/// Discord's colour of a severity.
fn discord_colour(alert: &Alert) -> u32 {
    match alert.severity.as_str() {
        "critical" => 0xB9_1C1C,
        "warning" => 0xB4_5309,
        _ => 0x1D_4ED8,
    }
}

/// A Discord webhook body: one embed; mentions in alert text ping nobody.
pub fn discord(alert: &Alert) -> Value {
    let fields: Vec<Value> = facts(alert)
        .into_iter()
        .map(|(name, value)| json!({ "name": name, "value": clip(&value, 1_024), "inline": true }))
        .collect();
    json!({
        "allowed_mentions": { "parse": [] },
        "embeds": [{
            "title": clip(&format!("DMARC alert ({}): {}", severity(alert), alert.rule_name), 256),
            "description": clip(&alert.summary, 4_096),
            "color": discord_colour(alert),
            "fields": fields,
            "timestamp": rfc3339(alert.created_at),
        }],
    })
}

/// HTML with `&`, `<`, `>`, `"` and `'` escaped.
pub(crate) fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// An e-mail: subject (one line), plain text and HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// One line, at most 200 characters.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// The e-mail of an alert.
pub fn email(alert: &Alert) -> Email {
    let one_line = |text: &str| text.replace(['\r', '\n'], " ");
    let subject = clip(
        &one_line(&format!("[dmarc] {}: {}", severity(alert), alert.summary)),
        200,
    );
    let mut text = format!("{}\n\n", alert.summary);
    let mut rows = String::new();
    for (label, value) in facts(alert) {
        text.push_str(&format!("{label}: {value}\n"));
        rows.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            html_escape(label),
            html_escape(&value)
        ));
    }
    let html = format!(
        "<!doctype html><html><body><h1>DMARC alert ({})</h1><p>{}</p><table>{rows}</table></body></html>",
        html_escape(&severity(alert)),
        html_escape(&alert.summary)
    );
    Email {
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmarc_store::AlertState;

    fn alert(summary: &str) -> Alert {
        Alert {
            id: 7,
            rule_id: Some(1),
            rule_name: "failures".into(),
            fingerprint: "f".repeat(64),
            subject: "example.com".into(),
            domain: Some("example.com".into()),
            severity: "critical".into(),
            state: AlertState::Created,
            summary: summary.into(),
            detail: json!({}),
            created_at: 1_700_000_000,
            last_seen_at: 1_700_000_000,
            acknowledged_at: None,
            acknowledged_by: None,
            resolved_at: None,
            resolved_by: None,
            suppression_id: None,
        }
    }

    #[test]
    fn teams_gets_a_message_with_an_adaptive_card() {
        let body = teams(&alert("example.com: 25.0 % failed"));
        assert_eq!(body["type"], "message");
        let attachment = &body["attachments"][0];
        assert_eq!(
            attachment["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &attachment["content"];
        assert_eq!(
            (card["type"].as_str(), card["version"].as_str()),
            (Some("AdaptiveCard"), Some("1.4"))
        );
        assert_eq!(card["body"][1]["text"], "example.com: 25.0 % failed");
        assert_eq!(
            card["body"][2]["facts"][0],
            json!({ "title": "Severity", "value": "critical" })
        );
        assert_eq!(card["body"][2]["facts"][3]["value"], "2023-11-14T22:13:20Z");
    }

    #[test]
    fn slack_gets_block_kit_with_its_markup_escaped() {
        let body = slack(&alert("<!channel> & <https://evil.example|click>"));
        assert!(
            body["text"]
                .as_str()
                .unwrap()
                .starts_with("DMARC alert (CRITICAL)")
        );
        assert_eq!(body["blocks"][0]["type"], "header");
        assert_eq!(body["blocks"][0]["text"]["type"], "plain_text");
        let section = body["blocks"][1]["text"]["text"].as_str().unwrap();
        assert_eq!(
            section,
            "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"
        );
        assert_eq!(body["blocks"][2]["fields"].as_array().unwrap().len(), 5);
        let long = slack(&alert(&"x".repeat(5_000)));
        assert_eq!(
            long["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            3_000
        );
    }

    #[test]
    fn discord_gets_an_embed_and_pings_nobody() {
        let body = discord(&alert("@everyone look"));
        assert_eq!(body["allowed_mentions"], json!({ "parse": [] }));
        let embed = &body["embeds"][0];
        assert_eq!(embed["description"], "@everyone look");
        assert_eq!(embed["color"], 0xB9_1C1C);
        assert_eq!(embed["timestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(
            embed["fields"][1],
            json!({ "name": "Rule", "value": "failures", "inline": true })
        );
    }

    #[test]
    fn email_has_one_subject_line_and_escaped_html() {
        let mail = email(&alert("line one\r\nBcc: victim@example.net <b>bold</b>"));
        assert!(!mail.subject.contains(['\r', '\n']), "{}", mail.subject);
        assert!(mail.subject.starts_with("[dmarc] CRITICAL: line one  Bcc:"));
        assert!(mail.html.contains("&lt;b&gt;bold&lt;/b&gt;"));
        assert!(!mail.html.contains("<b>bold"));
        assert!(mail.text.contains("Rule: failures\n"));
    }
}
