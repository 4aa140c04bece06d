//! `[[senders]]`: services added to (or replacing entries of) the curated sender table
//! (`dmarc_core::senders`), each with its networks and its DKIM signing domains.

use dmarc_core::senders::Service;

/// Entries a configuration may add.
const MAX_ENTRIES: usize = 1_000;

/// Why the entries cannot work, if they cannot: `(which, why)`.
pub(super) fn problem(senders: &[Service]) -> Option<(String, &'static str)> {
    if senders.len() > MAX_ENTRIES {
        return Some(("senders".into(), "at most 1000 entries"));
    }
    senders.iter().enumerate().find_map(|(i, s)| {
        let at = format!("senders[{i}]");
        let name = s.name.trim();
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            Some((at, "name must be 1 to 100 printable characters"))
        } else if s.asns.is_empty() && s.dkim_domains.is_empty() {
            Some((at, "needs asns or dkim_domains"))
        } else if s.asns.len() > 1_000 || s.dkim_domains.len() > 1_000 {
            Some((at, "at most 1000 asns and 1000 dkim_domains"))
        } else if s.asns.contains(&0) {
            Some((at, "asns must be positive"))
        } else if !s.dkim_domains.iter().all(|d| is_domain(d)) {
            Some((at, "dkim_domains must be domain names (example.net)"))
        } else {
            None
        }
    })
}

/// A domain name with at least two labels (a trailing dot allowed).
fn is_domain(domain: &str) -> bool {
    let domain = domain.trim().trim_end_matches('.');
    domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}
