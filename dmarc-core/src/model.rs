//! The report model: one union of RFC 7489, RFC 9990 and the pre-RFC draft dialect.
//!
//! Field names follow the XML element names, so the serde JSON form reads like the report
//! itself. Every string is trimmed; an absent or empty element is `None`. Enumerated values
//! keep unknown spellings in an `Other(raw)` variant instead of failing the report.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::diag::Diagnostic;

/// Lenient matching of an enumerated XML value: the canonical word, the aliases reporters
/// write instead, and the raw text of anything else (the parser reads every enumeration
/// through it).
pub(crate) trait Vocabulary: Sized {
    fn from_canonical(text: &str) -> Option<Self>;
    fn alias(lower: &str) -> Option<Self>;
    fn other(raw: String) -> Self;
}

/// Declares a closed XML vocabulary with an `Other(raw)` fallback.
///
/// Serialises as the lower-case XML spelling; unknown values serialise as sent.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)? }
        $( aliases { $( $alias:literal => $target:ident ),* $(,)? } )?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = concat!("The XML value `", $text, "`.")] $variant, )+
            /// A value outside the vocabulary, kept as sent (trimmed).
            Other(String),
        }

        impl $name {
            /// Every value of the vocabulary, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The XML spelling of the value (the raw text for `Other`).
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )+
                    $name::Other(raw) => raw,
                }
            }

            /// Matches an exact, already lower-cased spelling.
            fn from_canonical(text: &str) -> Option<Self> {
                match text {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// Parses leniently: trims ASCII whitespace and ignores ASCII case; anything
            /// else becomes `Other`.
            pub fn parse_lenient(text: &str) -> Self {
                let trimmed = text.trim_ascii();
                let lower = trimmed.to_ascii_lowercase();
                Self::from_canonical(&lower)
                    .or_else(|| <Self as Vocabulary>::alias(&lower))
                    .unwrap_or_else(|| $name::Other(trimmed.to_owned()))
            }
        }

        impl Vocabulary for $name {
            fn from_canonical(text: &str) -> Option<Self> {
                $name::from_canonical(text)
            }
            fn alias(lower: &str) -> Option<Self> {
                match lower {
                    $($( $alias => Some($name::$target), )*)?
                    _ => None,
                }
            }
            fn other(raw: String) -> Self {
                $name::Other(raw)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
                Ok(Self::parse_lenient(&text))
            }
        }
    };
}

vocabulary! {
    /// The action a receiver applied (`policy_evaluated/disposition`) or a published policy
    /// (`p`, `sp`, `np`). `pass` exists only in RFC 9990 `policy_evaluated`.
    Disposition { None = "none", Quarantine = "quarantine", Reject = "reject", Pass = "pass" }
}

vocabulary! {
    /// The DMARC-aligned verdict of `policy_evaluated/dkim` and `policy_evaluated/spf`.
    DmarcResult { Pass = "pass", Fail = "fail" }
    aliases { "softfail" => Fail, "hardfail" => Fail }
}

vocabulary! {
    /// A raw DKIM verification result (`auth_results/dkim/result`, RFC 8601 §2.7.1).
    DkimResult {
        None = "none", Pass = "pass", Fail = "fail", Policy = "policy", Neutral = "neutral",
        TempError = "temperror", PermError = "permerror",
    }
}

vocabulary! {
    /// A raw SPF result (`auth_results/spf/result`); `policy` is RFC 9990 only.
    SpfResult {
        None = "none", Neutral = "neutral", Pass = "pass", Fail = "fail", SoftFail = "softfail",
        Policy = "policy", TempError = "temperror", PermError = "permerror",
    }
    aliases { "hardfail" => Fail }
}

vocabulary! {
    /// The SPF identity checked; `helo` was removed in RFC 9990.
    SpfScope { Helo = "helo", MailFrom = "mfrom" }
}

vocabulary! {
    /// DKIM or SPF identifier alignment mode (`adkim`, `aspf`).
    Alignment { Relaxed = "r", Strict = "s" }
}

vocabulary! {
    /// Why a receiver applied a disposition other than the published policy.
    OverrideType {
        Forwarded = "forwarded", SampledOut = "sampled_out", TrustedForwarder = "trusted_forwarder",
        MailingList = "mailing_list", LocalPolicy = "local_policy",
        PolicyTestMode = "policy_test_mode",
        /// The `other` type of the XSD (not a value outside the vocabulary).
        OtherReason = "other",
    }
}

vocabulary! {
    /// RFC 9990 `testing`: whether the policy domain published `t=y`.
    Testing { No = "n", Yes = "y" }
}

vocabulary! {
    /// RFC 9990 `discovery_method`: how the policy record was found.
    DiscoveryMethod { Psl = "psl", TreeWalk = "treewalk" }
}

/// Which schema generation a report follows; detected heuristically, never used as a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// The pre-RFC dmarc.org format: no `version`, no namespace, no RFC 9990 elements.
    Draft,
    /// RFC 7489 Appendix C: a `version` element and no RFC 9990 features.
    Rfc7489,
    /// RFC 9990 (DMARCbis): the dmarc-2.0 namespace or any element only it defines.
    Rfc9990,
}

impl Dialect {
    /// The serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Draft => "draft",
            Dialect::Rfc7489 => "rfc7489",
            Dialect::Rfc9990 => "rfc9990",
        }
    }
}

/// One aggregate report: one reporter, one policy domain, one reporting period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The detected schema generation.
    pub dialect: Dialect,
    /// Namespace URI of the root element, if any.
    pub namespace: Option<String>,
    /// `feedback/version` as sent ("1.0", "1", "0.1", "2.0").
    pub version: Option<String>,
    /// `feedback/report_metadata`.
    pub report_metadata: ReportMetadata,
    /// `feedback/policy_published`, as reported.
    pub policy_published: PolicyPublished,
    /// The published policy with the record defaults applied (derived, not reported).
    pub policy_effective: EffectivePolicy,
    /// Top-level `extension` content and unknown top-level elements, as raw XML.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Extension>,
    /// `feedback/record`, one per (source IP, result, identifiers) combination.
    pub records: Vec<Record>,
    /// Lower-case hex SHA-256 of the decompressed XML (BOM removed): the secondary
    /// duplicate key that survives re-compression.
    pub xml_sha256: String,
    /// Every tolerance decision taken while reading the report.
    #[serde(default)]
    pub diagnostics: Vec<Diagnostic>,
}

/// `feedback/report_metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReportMetadata {
    /// Free-text name of the reporting organisation.
    pub org_name: Option<String>,
    /// Reporter contact address.
    pub email: Option<String>,
    /// Further contact information, often a URL (never fetched).
    pub extra_contact_info: Option<String>,
    /// Opaque report identifier, always text (values overflow `u64`).
    pub report_id: String,
    /// The reporting period.
    pub date_range: DateRange,
    /// `error` elements (0..n in RFC 7489, at most one in RFC 9990).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error: Vec<String>,
    /// RFC 9990 `generator`: the software that produced the report.
    pub generator: Option<String>,
}

/// The reporting period in UTC seconds since the epoch, as reported (after repairs such as
/// milliseconds to seconds, which are recorded as diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DateRange {
    /// Start of the period.
    pub begin: i64,
    /// End of the period (inclusive or exclusive, depending on the reporter).
    pub end: i64,
}

/// `feedback/policy_published`, exactly as reported.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PolicyPublished {
    /// The DMARC policy domain.
    pub domain: String,
    /// DKIM alignment mode.
    pub adkim: Option<Alignment>,
    /// SPF alignment mode.
    pub aspf: Option<Alignment>,
    /// Policy for the domain.
    pub p: Option<Disposition>,
    /// Policy for subdomains.
    pub sp: Option<Disposition>,
    /// RFC 9990: policy for non-existent subdomains.
    pub np: Option<Disposition>,
    /// RFC 7489 sampling percentage (removed in RFC 9990).
    pub pct: Option<u32>,
    /// Failure reporting options.
    pub fo: Option<String>,
    /// RFC 9990 `testing` (`t=` tag).
    pub testing: Option<Testing>,
    /// RFC 9990 `discovery_method`.
    pub discovery_method: Option<DiscoveryMethod>,
}

/// The published policy with record defaults applied (RFC 7489 §6.3, RFC 9989).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectivePolicy {
    /// `p`; `none` when the report omitted it.
    pub p: Disposition,
    /// `sp`, defaulting to `p`.
    pub sp: Disposition,
    /// `np`, defaulting to `sp`.
    pub np: Disposition,
    /// `adkim`, defaulting to relaxed.
    pub adkim: Alignment,
    /// `aspf`, defaulting to relaxed.
    pub aspf: Alignment,
    /// `pct`, defaulting to 100 (or 0 when RFC 9990 `testing=y`).
    pub pct: u32,
    /// `fo`, defaulting to `0`.
    pub fo: String,
}

impl PolicyPublished {
    /// Applies the record defaults to the reported values.
    pub fn effective(&self) -> EffectivePolicy {
        let p = self.p.clone().unwrap_or(Disposition::None);
        let sp = self.sp.clone().unwrap_or_else(|| p.clone());
        let np = self.np.clone().unwrap_or_else(|| sp.clone());
        let testing = self.testing == Some(Testing::Yes);
        EffectivePolicy {
            p,
            sp,
            np,
            adkim: self.adkim.clone().unwrap_or(Alignment::Relaxed),
            aspf: self.aspf.clone().unwrap_or(Alignment::Relaxed),
            pct: self.pct.unwrap_or(if testing { 0 } else { 100 }),
            fo: self.fo.clone().unwrap_or_else(|| "0".to_owned()),
        }
    }
}

/// One `feedback/record`, flattened from `row` for ease of use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// `row/source_ip`; `None` when absent or not an IP address (see the diagnostics).
    pub source_ip: Option<IpAddr>,
    /// `row/count`: the number of messages this row stands for.
    pub count: u64,
    /// `row/policy_evaluated`.
    pub policy_evaluated: PolicyEvaluated,
    /// `record/identifiers` (also read from the misspelt `identities`).
    pub identifiers: Identifiers,
    /// `record/auth_results`.
    pub auth_results: AuthResults,
    /// Record-level extension elements, as raw XML.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Extension>,
}

impl Record {
    /// True when the DMARC-aligned DKIM verdict is `pass`.
    pub fn dkim_aligned_pass(&self) -> bool {
        self.policy_evaluated.dkim == Some(DmarcResult::Pass)
    }

    /// True when the DMARC-aligned SPF verdict is `pass`.
    pub fn spf_aligned_pass(&self) -> bool {
        self.policy_evaluated.spf == Some(DmarcResult::Pass)
    }

    /// True when the row passed DMARC (either aligned verdict passed).
    pub fn dmarc_pass(&self) -> bool {
        self.dkim_aligned_pass() || self.spf_aligned_pass()
    }
}

/// `row/policy_evaluated`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PolicyEvaluated {
    /// The action applied.
    pub disposition: Option<Disposition>,
    /// The DMARC-aligned DKIM verdict.
    pub dkim: Option<DmarcResult>,
    /// The DMARC-aligned SPF verdict.
    pub spf: Option<DmarcResult>,
    /// Override reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason: Vec<PolicyOverrideReason>,
}

/// `policy_evaluated/reason`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PolicyOverrideReason {
    /// The override type; `None` when the element was empty.
    #[serde(rename = "type")]
    pub kind: Option<OverrideType>,
    /// Free-text comment.
    pub comment: Option<String>,
}

/// `record/identifiers`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Identifiers {
    /// RFC 5322.From domain.
    pub header_from: Option<String>,
    /// RFC 5321.MailFrom domain.
    pub envelope_from: Option<String>,
    /// Recipient domain.
    pub envelope_to: Option<String>,
}

/// `record/auth_results`: raw, unaligned authentication results.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuthResults {
    /// DKIM signatures, in report order.
    pub dkim: Vec<DkimAuthResult>,
    /// SPF checks, in report order.
    pub spf: Vec<SpfAuthResult>,
}

/// `auth_results/dkim`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DkimAuthResult {
    /// The `d=` domain.
    pub domain: Option<String>,
    /// The `s=` selector.
    pub selector: Option<String>,
    /// The verification result.
    pub result: Option<DkimResult>,
    /// Free-text detail.
    pub human_result: Option<String>,
}

/// `auth_results/spf`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SpfAuthResult {
    /// The checked domain.
    pub domain: Option<String>,
    /// The checked identity, as reported (`None` when omitted; effectively `mfrom`).
    pub scope: Option<SpfScope>,
    /// The SPF result.
    pub result: Option<SpfResult>,
    /// Free-text detail (RFC 9990).
    pub human_result: Option<String>,
}

/// An extension or unknown element kept as a bounded raw XML fragment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// The element's qualified name as written.
    pub name: String,
    /// The raw XML of the element.
    pub xml: String,
}

impl Report {
    /// Sum of `count` over all records.
    pub fn message_count(&self) -> u64 {
        self.records
            .iter()
            .map(|r| r.count)
            .fold(0, u64::saturating_add)
    }
}
