//! The `new_source` and `new_network` rule kinds: addresses, or networks (ASNs, from
//! geolocation), that send failing mail for a domain and were not seen for it before.

use std::collections::BTreeMap;
use std::net::IpAddr;

use dmarc_core::{Filter, GeoInfo, Verdict};
use dmarc_store::{AlertRule, Finding, Page, Store, StoreError};
use serde_json::json;

use super::{NEW_SOURCE_CANDIDATES, before, finding, window};

/// The parameters both kinds share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Hours back from the evaluation.
    pub window_hours: u64,
    /// Days before the window.
    pub lookback_days: u64,
    /// Failing messages to exceed.
    pub min_failing: u64,
}

/// A domain with failing mail in the window: its name, the window's filter for it, and its
/// busiest failing addresses with their failing messages.
struct Candidates {
    domain: String,
    earlier: Filter,
    addresses: Vec<(IpAddr, u64)>,
}

/// The domains of the rule with failing mail in the `window_hours` before `at`.
async fn candidates(
    store: &Store,
    rule: &AlertRule,
    at: i64,
    p: &Params,
) -> Result<Vec<Candidates>, StoreError> {
    let now = window(rule, at, p.window_hours);
    let failing = Filter {
        dkim: Some(Verdict::Fail),
        spf: Some(Verdict::Fail),
        ..now.clone()
    };
    let mut out = Vec::new();
    for group in store.by_domain(&failing).await? {
        let domain = group.key;
        let scoped = Filter {
            domains: vec![domain.clone()],
            ..failing.clone()
        };
        let addresses = busiest(store, &scoped, NEW_SOURCE_CANDIDATES).await?;
        out.push(Candidates {
            earlier: Filter {
                domains: vec![domain.clone()],
                ..before(&now, p.lookback_days)
            },
            domain,
            addresses,
        });
    }
    Ok(out)
}

/// The `n` addresses with the most messages under `filter`, with their messages.
pub(super) async fn busiest(
    store: &Store,
    filter: &Filter,
    n: u32,
) -> Result<Vec<(IpAddr, u64)>, StoreError> {
    let sources = store.by_source(filter, Page::first(n)).await?;
    Ok(sources
        .items
        .iter()
        .filter_map(|s| s.source_ip.map(|ip| (ip, s.tally.messages)))
        .collect())
}

/// Of `candidates` (address, messages), those without records under `earlier` (a domain's
/// lookback, see [`before`]).
pub(super) async fn unseen(
    store: &Store,
    earlier: &Filter,
    candidates: Vec<(IpAddr, u64)>,
) -> Result<Vec<(IpAddr, u64)>, StoreError> {
    if candidates.is_empty() {
        return Ok(candidates);
    }
    let ips: Vec<IpAddr> = candidates.iter().map(|(ip, _)| *ip).collect();
    let seen: Vec<IpAddr> = store
        .activity_of(earlier, &ips)
        .await?
        .into_iter()
        .map(|a| a.source_ip)
        .collect();
    Ok(candidates
        .into_iter()
        .filter(|(ip, _)| !seen.contains(ip))
        .collect())
}

/// ` (country ASn organisation)` of a place, when it says anything.
fn network_text(info: &GeoInfo) -> Option<String> {
    let asn = info.asn.map(|a| format!("AS{a}"));
    let parts: Vec<String> = [info.country_code.clone(), asn, info.as_org.clone()]
        .into_iter()
        .flatten()
        .collect();
    (!parts.is_empty()).then(|| format!(" ({})", parts.join(" ")))
}

/// Addresses not seen for their domain in the lookback that send more than `min_failing`
/// failing messages, named with their place when geolocation placed them.
pub(super) async fn new_sources(
    store: &Store,
    rule: &AlertRule,
    at: i64,
    p: Params,
) -> Result<Vec<Finding>, StoreError> {
    let mut out = Vec::new();
    for c in candidates(store, rule, at, &p).await? {
        let loud: Vec<(IpAddr, u64)> = c
            .addresses
            .into_iter()
            .filter(|(_, messages)| *messages > p.min_failing)
            .collect();
        if loud.is_empty() {
            continue;
        }
        let new = unseen(store, &c.earlier, loud).await?;
        let placed: Vec<IpAddr> = new.iter().map(|(ip, _)| *ip).collect();
        let places = store.places(&placed).await?;
        let domain = &c.domain;
        for (ip, messages) in new {
            let info = places.get(&ip).map(|p| &p.info);
            out.push(finding(
                rule,
                format!("{domain} {ip}"),
                domain,
                format!(
                    "{domain}: a new address, {ip}{}, sent {messages} failing messages in the last {} h (not seen in the {} days before)",
                    info.and_then(network_text).unwrap_or_default(),
                    p.window_hours,
                    p.lookback_days
                ),
                json!({ "source_ip": ip, "failing": messages, "window_hours": p.window_hours,
                        "lookback_days": p.lookback_days, "country": info.and_then(|i| i.country_code.clone()),
                        "asn": info.and_then(|i| i.asn), "as_org": info.and_then(|i| i.as_org.clone()) }),
            ));
        }
    }
    Ok(out)
}

/// One network's failing mail in the window.
#[derive(Default)]
struct Network {
    failing: u64,
    addresses: Vec<IpAddr>,
    info: GeoInfo,
}

/// Networks none of whose addresses was seen for the domain in the lookback, whose
/// addresses (among the domain's busiest failing ones) send more than `min_failing`
/// failing messages together. Addresses geolocation did not place are not counted.
pub(super) async fn new_networks(
    store: &Store,
    rule: &AlertRule,
    at: i64,
    p: Params,
) -> Result<Vec<Finding>, StoreError> {
    let mut out = Vec::new();
    for c in candidates(store, rule, at, &p).await? {
        let ips: Vec<IpAddr> = c.addresses.iter().map(|(ip, _)| *ip).collect();
        let places = store.places(&ips).await?;
        let mut networks: BTreeMap<u32, Network> = BTreeMap::new();
        for (ip, messages) in &c.addresses {
            let Some(place) = places.get(ip) else {
                continue;
            };
            let Some(asn) = place.info.asn else { continue };
            let network = networks.entry(asn).or_default();
            network.failing = network.failing.saturating_add(*messages);
            network.addresses.push(*ip);
            if network.info.asn.is_none() {
                network.info = place.info.clone();
            }
        }
        networks.retain(|_, n| n.failing > p.min_failing);
        let asns: Vec<u32> = networks.keys().copied().collect();
        let seen = store.networks_seen(&c.earlier, &asns).await?;
        let domain = &c.domain;
        for (asn, n) in networks.into_iter().filter(|(asn, _)| !seen.contains(asn)) {
            let shown: Vec<String> = n.addresses.iter().take(3).map(IpAddr::to_string).collect();
            let more = n.addresses.len().saturating_sub(shown.len());
            out.push(finding(
                rule,
                format!("{domain} AS{asn}"),
                domain,
                format!(
                    "{domain}: a new network{}, sent {} failing messages from {} address{} ({}{}) in the last {} h (not seen in the {} days before)",
                    network_text(&n.info).unwrap_or_default(),
                    n.failing,
                    n.addresses.len(),
                    if n.addresses.len() == 1 { "" } else { "es" },
                    shown.join(", "),
                    if more > 0 { format!(" and {more} more") } else { String::new() },
                    p.window_hours,
                    p.lookback_days
                ),
                json!({ "asn": asn, "as_org": n.info.as_org, "country": n.info.country_code,
                        "failing": n.failing, "addresses": n.addresses,
                        "window_hours": p.window_hours, "lookback_days": p.lookback_days }),
            ));
        }
    }
    Ok(out)
}
