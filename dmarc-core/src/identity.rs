//! Report identity and duplicate detection (dmarc-format.md §3.6).

use serde::{Deserialize, Serialize};

use crate::model::Report;

/// The primary duplicate key of a report.
///
/// `reporter` is the lower-cased domain of `<email>`, falling back to the trimmed,
/// lower-cased `org_name` (free text that varies between reports of one reporter);
/// `report_id` is trimmed with one pair of surrounding `<>` removed and nothing else changed;
/// `policy_domain` is trimmed and ASCII lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReportIdentity {
    /// Who sent the report.
    pub reporter: String,
    /// The report identifier as text.
    pub report_id: String,
    /// The DMARC policy domain.
    pub policy_domain: String,
}

/// How a report relates to one already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// Nothing in common.
    Distinct,
    /// The same report again: same identity and date range, or the same XML bytes.
    Duplicate,
    /// Same identity but a different date range: keep both and flag it.
    Conflict,
}

impl Report {
    /// The primary duplicate key.
    pub fn identity(&self) -> ReportIdentity {
        let meta = &self.report_metadata;
        let reporter = meta
            .email
            .as_deref()
            .and_then(email_domain)
            .or_else(|| meta.org_name.as_deref().map(|o| o.trim().to_lowercase()))
            .unwrap_or_default();
        ReportIdentity {
            reporter,
            report_id: normalize_report_id(&meta.report_id),
            policy_domain: self.domain_key(),
        }
    }

    /// The policy domain as used for grouping and filtering: trimmed, ASCII lower-cased.
    pub fn domain_key(&self) -> String {
        self.policy_published.domain.trim().to_ascii_lowercase()
    }

    /// The organisation a report is grouped under: its trimmed `org_name`, else its
    /// reporter (the domain of `email`).
    pub fn organization(&self) -> String {
        match self.report_metadata.org_name.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => self.identity().reporter,
        }
    }

    /// The `org_name` as the organisation filter compares it: trimmed, ASCII lower-cased
    /// (empty when absent).
    pub fn org_name_key(&self) -> String {
        self.report_metadata
            .org_name
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    }

    /// Compares two reports under the duplicate rules.
    pub fn relation_to(&self, other: &Report) -> Relation {
        if self.xml_sha256 == other.xml_sha256 {
            return Relation::Duplicate;
        }
        if self.identity() != other.identity() {
            return Relation::Distinct;
        }
        if self.report_metadata.date_range == other.report_metadata.date_range {
            Relation::Duplicate
        } else {
            Relation::Conflict
        }
    }
}

/// Trims a report ID and removes one pair of surrounding angle brackets.
pub fn normalize_report_id(raw: &str) -> String {
    let trimmed = raw.trim();
    trimmed
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(trimmed)
        .trim()
        .to_owned()
}

/// The lower-cased domain of an address such as `dmarc@Google.com` or `<a@b.example>`.
fn email_domain(email: &str) -> Option<String> {
    let email = email.trim().trim_start_matches("mailto:");
    let (_, domain) = email.rsplit_once('@')?;
    let domain = domain
        .trim()
        .trim_end_matches('>')
        .trim()
        .trim_end_matches('.');
    (!domain.is_empty()).then(|| domain.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_ids_keep_everything_but_brackets_and_space() {
        for (raw, want) in [
            (" <abc@x.example> ", "abc@x.example"),
            ("9391651994964116463", "9391651994964116463"),
            ("1560820250.881400", "1560820250.881400"),
            ("<<a>>", "<a>"),
            (
                "b7e14c$022357c=c63689f619f63655@fcso.com",
                "b7e14c$022357c=c63689f619f63655@fcso.com",
            ),
        ] {
            assert_eq!(normalize_report_id(raw), want, "{raw}");
        }
    }

    #[test]
    fn email_domains() {
        assert_eq!(
            email_domain("noreply-dmarc-support@Google.com").as_deref(),
            Some("google.com")
        );
        assert_eq!(email_domain("<dmarc@mail.Ru>").as_deref(), Some("mail.ru"));
        assert_eq!(
            email_domain("mailto:x@y.example.").as_deref(),
            Some("y.example")
        );
        assert_eq!(email_domain("not an address"), None);
        assert_eq!(email_domain("trailing@"), None);
    }
}
