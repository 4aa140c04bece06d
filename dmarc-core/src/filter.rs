//! The common filter set: which records a query or rollup looks at.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::model::{Disposition, Record, Report};

/// Pass or fail of a DMARC-aligned verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The aligned verdict is `pass`.
    Pass,
    /// Anything else (`fail`, missing, unknown).
    Fail,
}

impl Verdict {
    fn of(pass: bool) -> Self {
        if pass { Verdict::Pass } else { Verdict::Fail }
    }
}

impl FromStr for Verdict {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pass" => Ok(Verdict::Pass),
            "fail" => Ok(Verdict::Fail),
            _ => Err(FilterError(format!("expected pass or fail, got {s:?}"))),
        }
    }
}

/// A source address filter: one address, or a CIDR network (IPv4 or IPv6).
///
/// Addresses and networks are compared in one key space, [`ip_key`], where an IPv4 address
/// equals its IPv4-mapped IPv6 form: `192.0.2.0/24` matches `::ffff:192.0.2.1`, and
/// `::ffff:0:0/96` matches every IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpFilter(IpNet);

/// The 16-byte key of an address: IPv6 as is, IPv4 as its IPv4-mapped IPv6 form. Keys of
/// a network's addresses form one contiguous range ([`IpFilter::key_range`]), so stores
/// answer CIDR filters with a range scan on an index of keys.
pub fn ip_key(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

impl IpFilter {
    /// True when `ip` is the address or lies in the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (low, high) = self.key_range();
        (low..=high).contains(&ip_key(ip))
    }

    /// The first and last [`ip_key`] of the network, inclusive.
    pub fn key_range(&self) -> ([u8; 16], [u8; 16]) {
        match self.0 {
            IpNet::V4(net) => (
                net.network().to_ipv6_mapped().octets(),
                net.broadcast().to_ipv6_mapped().octets(),
            ),
            IpNet::V6(net) => (net.network().octets(), net.broadcast().octets()),
        }
    }

    /// The network (a /32 or /128 for a single address).
    pub fn network(&self) -> IpNet {
        self.0
    }
}

impl FromStr for IpFilter {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(net) = IpNet::from_str(s) {
            return Ok(IpFilter(net.trunc()));
        }
        IpAddr::from_str(s)
            .map(|ip| IpFilter(IpNet::from(ip)))
            .map_err(|_| FilterError(format!("not an IP address or CIDR network: {s:?}")))
    }
}

impl fmt::Display for IpFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.prefix_len() == self.0.max_prefix_len() {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl Serialize for IpFilter {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpFilter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An invalid filter value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter: {0}")]
pub struct FilterError(String);

/// Which records to look at. Every field narrows the selection; the default selects all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// Policy domains (case-insensitive); empty means all.
    pub domains: Vec<String>,
    /// Reports whose period ends at or after this time (UTC seconds).
    pub from: Option<i64>,
    /// Reports whose period begins before this time (UTC seconds).
    pub to: Option<i64>,
    /// Source address or network.
    pub source_ip: Option<IpFilter>,
    /// DMARC-aligned DKIM verdict.
    pub dkim: Option<Verdict>,
    /// DMARC-aligned SPF verdict.
    pub spf: Option<Verdict>,
    /// Applied disposition.
    pub disposition: Option<Disposition>,
    /// Reporting organisation (`org_name`, case-insensitive, trimmed).
    pub org: Option<String>,
}

impl Filter {
    /// The UTC days (days since 1970-01-01) the period touches, first and last inclusive;
    /// `None` on an open side. A per-day answer lists no day outside them.
    pub fn days(&self) -> (Option<i64>, Option<i64>) {
        const DAY: i64 = 86_400;
        (
            self.from.map(|from| from.div_euclid(DAY)),
            self.to.map(|to| to.saturating_sub(1).div_euclid(DAY)),
        )
    }

    /// True when the report-level conditions (domain, period, organisation) hold.
    pub fn matches_report(&self, report: &Report) -> bool {
        let range = report.report_metadata.date_range;
        if self
            .from
            .is_some_and(|from| range.end.max(range.begin) < from)
        {
            return false;
        }
        if self.to.is_some_and(|to| range.begin >= to) {
            return false;
        }
        if !self.domains.is_empty() {
            let domain = report.domain_key();
            if !self
                .domains
                .iter()
                .any(|d| d.trim().eq_ignore_ascii_case(&domain))
            {
                return false;
            }
        }
        if let Some(org) = &self.org
            && !org.trim().eq_ignore_ascii_case(&report.org_name_key())
        {
            return false;
        }
        true
    }

    /// True when the record-level conditions hold (the report-level ones are not checked).
    pub fn matches_record(&self, record: &Record) -> bool {
        if let Some(ip) = &self.source_ip
            && !record.source_ip.is_some_and(|addr| ip.contains(addr))
        {
            return false;
        }
        if self
            .dkim
            .is_some_and(|v| v != Verdict::of(record.dkim_aligned_pass()))
        {
            return false;
        }
        if self
            .spf
            .is_some_and(|v| v != Verdict::of(record.spf_aligned_pass()))
        {
            return false;
        }
        if let Some(want) = &self.disposition
            && record.policy_evaluated.disposition.as_ref() != Some(want)
        {
            return false;
        }
        true
    }

    /// Every record of `reports` this filter selects, with its report.
    pub fn select<'a>(
        &'a self,
        reports: &'a [Report],
    ) -> impl Iterator<Item = (&'a Report, &'a Record)> + 'a {
        reports
            .iter()
            .filter(|report| self.matches_report(report))
            .flat_map(|report| report.records.iter().map(move |record| (report, record)))
            .filter(|(_, record)| self.matches_record(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_filters() {
        let net: IpFilter = "192.0.2.0/24".parse().unwrap();
        assert!(net.contains("192.0.2.77".parse().unwrap()));
        assert!(net.contains("::ffff:192.0.2.1".parse().unwrap()));
        assert!(!net.contains("192.0.3.1".parse().unwrap()));
        let host: IpFilter = "2001:db8::1".parse().unwrap();
        assert!(host.contains("2001:db8::1".parse().unwrap()));
        assert!(!host.contains("2001:db8::2".parse().unwrap()));
        let mapped: IpFilter = "::ffff:0:0/96".parse().unwrap();
        assert!(mapped.contains("203.0.113.9".parse().unwrap()));
        assert!(!mapped.contains("2001:db8::1".parse().unwrap()));
        let v6net: IpFilter = "2001:db8:1::/48".parse().unwrap();
        assert!(v6net.contains("2001:db8:1:ffff::9".parse().unwrap()));
        assert_eq!(host.to_string(), "2001:db8::1");
        assert_eq!(
            "10.1.2.3/8".parse::<IpFilter>().map(|f| f.to_string()),
            Ok("10.0.0.0/8".to_owned())
        );
        assert!("10.0.0.0/33".parse::<IpFilter>().is_err());
        assert!("example.com".parse::<IpFilter>().is_err());
    }

    #[test]
    fn verdicts_parse() {
        assert_eq!("PASS".parse::<Verdict>(), Ok(Verdict::Pass));
        assert!("maybe".parse::<Verdict>().is_err());
    }
}
