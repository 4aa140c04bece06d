//! Sender identification: the service behind a source address, from its network (ASN) and
//! the DKIM domains that signed its mail, and what the source is for a domain (an aligned
//! sender, a known service not aligned, a forwarder, or unknown).
//!
//! [`Services::curated`] is the table this crate ships; [`Services::with`] puts a user's
//! entries in front of it. [`SenderEvidence`] gathers what a source's records say for one
//! domain, and [`SenderEvidence::classify`] reads it.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::{DkimResult, Filter, OverrideType, Record, Report};

/// A sending service: the networks it sends from and the domains it signs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The name shown to users.
    pub name: String,
    /// Its autonomous system numbers.
    #[serde(default)]
    pub asns: Vec<u32>,
    /// The DKIM `d=` domains it signs with when the customer has not set up their own; a
    /// signing domain matches when it is one of these or ends with `.` and one of these.
    #[serde(default)]
    pub dkim_domains: Vec<String>,
}

/// The curated services: `(name, ASNs, DKIM domains)`. The ASNs are those the bundled
/// ASN table names after the service; the DKIM domains are the ones each service signs
/// with for customers without their own key.
const CURATED: &[(&str, &[u32], &[&str])] = &[
    (
        "Google Workspace",
        &[15169],
        &["google.com", "gappssmtp.com"],
    ),
    ("Microsoft 365", &[8075], &["onmicrosoft.com"]),
    ("Amazon SES", &[14618, 16509], &["amazonses.com"]),
    ("SendGrid", &[11377], &["sendgrid.net"]),
    (
        "Mailchimp",
        &[14782],
        &[
            "mcsv.net",
            "mailchimpapp.net",
            "rsgsv.net",
            "mandrillapp.com",
        ],
    ),
    (
        "Salesforce",
        &[14340],
        &["exacttarget.com", "salesforce.com"],
    ),
    ("Mailgun", &[396479], &["mailgun.org", "mailgun.net"]),
    ("SparkPost", &[23528], &["sparkpostmail.com"]),
    ("Brevo", &[200484], &["sendinblue.com", "brevo.com"]),
    ("Mailjet", &[200069], &["mailjet.com"]),
    (
        "Zoho Mail",
        &[2639, 56201, 205111, 139006],
        &["zoho.com", "zohomail.com"],
    ),
    (
        "Proofpoint",
        &[52129, 26211, 22843, 13916],
        &["pphosted.com", "ppe-hosted.com"],
    ),
    ("Mimecast", &[30031, 42427, 39588, 60492], &[]),
];

/// The service table: a user's entries first, then the curated ones.
#[derive(Debug, Clone)]
pub struct Services {
    list: Vec<Service>,
    by_asn: HashMap<u32, usize>,
}

impl Default for Services {
    fn default() -> Self {
        Services::curated()
    }
}

impl Services {
    /// The curated table.
    pub fn curated() -> Self {
        Services::with(Vec::new())
    }

    /// `extra` in front of the curated table: an entry with a curated entry's name
    /// replaces it, and the first entry naming an ASN or a domain wins.
    pub fn with(extra: Vec<Service>) -> Self {
        let curated: Vec<Service> = CURATED
            .iter()
            .filter(|(name, ..)| !extra.iter().any(|e| e.name.eq_ignore_ascii_case(name)))
            .map(|(name, asns, domains)| Service {
                name: (*name).to_owned(),
                asns: asns.to_vec(),
                dkim_domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            })
            .collect();
        let list: Vec<Service> = extra
            .into_iter()
            .map(|mut s| {
                s.dkim_domains = s.dkim_domains.iter().map(|d| normalize(d)).collect();
                s
            })
            .chain(curated)
            .collect();
        let mut by_asn = HashMap::new();
        for (i, service) in list.iter().enumerate() {
            for asn in &service.asns {
                by_asn.entry(*asn).or_insert(i);
            }
        }
        Services { list, by_asn }
    }

    /// Every entry, in the order they are matched.
    pub fn entries(&self) -> &[Service] {
        &self.list
    }

    /// The service of a network.
    pub fn by_asn(&self, asn: u32) -> Option<&Service> {
        self.by_asn.get(&asn).map(|i| &self.list[*i])
    }

    /// The service of a DKIM signing domain.
    pub fn by_dkim_domain(&self, domain: &str) -> Option<&Service> {
        let domain = normalize(domain);
        self.list.iter().find(|s| {
            s.dkim_domains.iter().any(|d| {
                domain == *d
                    || (domain.len() > d.len()
                        && domain.ends_with(d.as_str())
                        && domain.as_bytes()[domain.len() - d.len() - 1] == b'.')
            })
        })
    }

    /// The service behind a source: by the passing DKIM signatures first (most messages
    /// first; they are authenticated), then by its network.
    pub fn identify(&self, evidence: &SenderEvidence, asn: Option<u32>) -> Option<ServiceMatch> {
        let mut domains: Vec<(&String, &u64)> = evidence.dkim_domains.iter().collect();
        domains.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let by_dkim = domains.into_iter().find_map(|(domain, _)| {
            self.by_dkim_domain(domain).map(|s| ServiceMatch {
                name: s.name.clone(),
                matched_by: MatchedBy::Dkim,
                evidence: domain.clone(),
            })
        });
        by_dkim.or_else(|| self.of_network(asn?))
    }

    /// The service of the network `asn`, as a match.
    pub fn of_network(&self, asn: u32) -> Option<ServiceMatch> {
        self.by_asn(asn).map(|s| ServiceMatch {
            name: s.name.clone(),
            matched_by: MatchedBy::Asn,
            evidence: format!("AS{asn}"),
        })
    }
}

/// Lower case, without a trailing dot or surrounding space.
fn normalize(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// A service named for a source, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceMatch {
    /// The service's name.
    pub name: String,
    /// What named it.
    pub matched_by: MatchedBy,
    /// The signing domain, or the network as `AS<number>`.
    pub evidence: String,
}

/// What named a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// A DKIM signature that passed, by one of the service's domains.
    Dkim,
    /// The network the address is in.
    Asn,
}

/// What a source is for a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SenderClass {
    /// At least half of its messages pass DMARC.
    AlignedSender,
    /// A known service sends for the domain without alignment: a configuration to fix
    /// (its DKIM key or the SPF record).
    KnownServiceNotAligned,
    /// It relays mail others sent: reporters gave forwarding overrides (`forwarded`,
    /// `mailing_list`, `trusted_forwarder`, or `local_policy` with `arc=pass`), or most of
    /// its messages fail SPF and pass DKIM for another domain only.
    Forwarder,
    /// None of the above: if it sends much, look closer.
    Unknown,
}

/// What the records of one source say for one domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SenderEvidence {
    /// Messages.
    pub messages: u64,
    /// Messages that passed DMARC.
    pub dmarc_pass: u64,
    /// Messages with a forwarding override reason.
    pub forwarding_overrides: u64,
    /// Messages that failed aligned SPF and aligned DKIM but passed DKIM for another domain.
    pub unaligned_dkim_pass: u64,
    /// Messages per DKIM domain whose signature passed.
    pub dkim_domains: BTreeMap<String, u64>,
}

/// Signing domains kept per source and domain; the rest are dropped (reports are
/// untrusted and a record may list many).
const MAX_DKIM_DOMAINS: usize = 32;

impl SenderEvidence {
    /// Adds one record (`count` messages).
    pub fn add(&mut self, record: &Record) {
        let n = record.count;
        self.messages = self.messages.saturating_add(n);
        if record.dmarc_pass() {
            self.dmarc_pass = self.dmarc_pass.saturating_add(n);
        }
        if record
            .policy_evaluated
            .reason
            .iter()
            .any(|r| match &r.kind {
                Some(OverrideType::Forwarded | OverrideType::MailingList) => true,
                Some(OverrideType::TrustedForwarder) => true,
                Some(OverrideType::LocalPolicy) => r
                    .comment
                    .as_deref()
                    .is_some_and(|c| c.to_ascii_lowercase().contains("arc=pass")),
                _ => false,
            })
        {
            self.forwarding_overrides = self.forwarding_overrides.saturating_add(n);
        }
        let mut passing = record
            .auth_results
            .dkim
            .iter()
            .filter(|d| d.result == Some(DkimResult::Pass))
            .filter_map(|d| d.domain.as_deref())
            .map(normalize)
            .filter(|d| !d.is_empty())
            .peekable();
        if passing.peek().is_some() && !record.dmarc_pass() {
            self.unaligned_dkim_pass = self.unaligned_dkim_pass.saturating_add(n);
        }
        for domain in passing {
            let known = self.dkim_domains.contains_key(&domain);
            if known || self.dkim_domains.len() < MAX_DKIM_DOMAINS {
                let seen = self.dkim_domains.entry(domain).or_default();
                *seen = seen.saturating_add(n);
            }
        }
    }

    /// What the source is for the domain, given the service identified for it:
    /// 1. an aligned sender when at least half of its messages pass DMARC;
    /// 2. a forwarder when reporters gave forwarding overrides for its messages;
    /// 3. a known service not aligned when a service's DKIM signature passed;
    /// 4. a forwarder when at least half of its messages passed DKIM for another domain
    ///    only;
    /// 5. a known service not aligned when its network is a service's;
    /// 6. unknown.
    pub fn classify(&self, service: Option<&ServiceMatch>) -> SenderClass {
        let at_least_half = |n: u64| n > 0 && n.saturating_mul(2) >= self.messages;
        let matched = |by: MatchedBy| service.is_some_and(|s| s.matched_by == by);
        if at_least_half(self.dmarc_pass) {
            SenderClass::AlignedSender
        } else if self.forwarding_overrides > 0 {
            SenderClass::Forwarder
        } else if matched(MatchedBy::Dkim) {
            SenderClass::KnownServiceNotAligned
        } else if at_least_half(self.unaligned_dkim_pass) {
            SenderClass::Forwarder
        } else if matched(MatchedBy::Asn) {
            SenderClass::KnownServiceNotAligned
        } else {
            SenderClass::Unknown
        }
    }
}

/// What a source is for one policy domain, why, and who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Identification {
    /// The policy domain.
    pub domain: String,
    /// What the source is for it.
    pub class: SenderClass,
    /// The service behind the source, when the table knows it.
    pub service: Option<ServiceMatch>,
    /// What its records say.
    #[serde(flatten)]
    pub evidence: SenderEvidence,
}

impl Services {
    /// The identifications of every source of `evidence` (as [`sender_evidence`] gives
    /// it), its domains most messages first; `asn_of` names the network of an address.
    pub fn identify_all(
        &self,
        evidence: HashMap<(IpAddr, String), SenderEvidence>,
        asn_of: impl Fn(IpAddr) -> Option<u32>,
    ) -> HashMap<IpAddr, Vec<Identification>> {
        let mut out: HashMap<IpAddr, Vec<Identification>> = HashMap::new();
        for ((ip, domain), evidence) in evidence {
            let service = self.identify(&evidence, asn_of(ip));
            out.entry(ip).or_default().push(Identification {
                domain,
                class: evidence.classify(service.as_ref()),
                service,
                evidence,
            });
        }
        for list in out.values_mut() {
            list.sort_by(|a, b| {
                b.evidence
                    .messages
                    .cmp(&a.evidence.messages)
                    .then_with(|| a.domain.cmp(&b.domain))
            });
        }
        out
    }
}

/// The evidence of every source address and policy domain ([`Report::domain_key`]) of the records
/// `filter` selects.
pub fn sender_evidence(
    reports: &[Report],
    filter: &Filter,
) -> HashMap<(IpAddr, String), SenderEvidence> {
    let mut out: HashMap<(IpAddr, String), SenderEvidence> = HashMap::new();
    for (report, record) in filter.select(reports) {
        let Some(ip) = record.source_ip else { continue };
        let domain = report.domain_key();
        out.entry((ip, domain)).or_default().add(record);
    }
    out
}

#[cfg(test)]
mod tests;
