//! Spoofing campaigns: addresses outside the generated senders that send failing mail as a
//! domain for a few days, for the anomaly model's validation and end-to-end tests.

use std::fmt::Write as _;

use rand::Rng;

use crate::{GeneratedReport, Generator, Reporter, SPOOF_DOMAINS};

/// Addresses of a spoofing campaign: `n` addresses of one network (5.188.x.y), never
/// among the generated senders.
pub fn spoofer_addresses(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("5.188.{}.{}", 10 + i / 200, 1 + i % 200))
        .collect()
}

impl Generator {
    /// A spoofing campaign against `domain`: every address of `sources` sends about
    /// `messages` messages a day as `domain` on `days` days from `first_day` (UTC seconds),
    /// failing DKIM and SPF, seen by `receivers` (1 to 3) receivers (a report a day from
    /// each).
    pub fn spoofing_campaign(
        &mut self,
        domain: &str,
        sources: &[String],
        first_day: i64,
        days: i64,
        messages: u64,
        receivers: usize,
    ) -> Vec<GeneratedReport> {
        let receivers = receivers.clamp(1, 3);
        let share = messages / receivers as u64;
        let mut out = Vec::new();
        for day in 0..days {
            for reporter in [Reporter::Google, Reporter::Microsoft, Reporter::Yahoo]
                .into_iter()
                .take(receivers)
            {
                self.serial += 1;
                let (org, email) = reporter.org_and_email();
                let begin = first_day + day * 86_400;
                let mut x = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback><report_metadata>\
                     <org_name>{org}</org_name><email>{email}</email>\
                     <report_id>spoof-{}</report_id><date_range><begin>{begin}</begin>\
                     <end>{}</end></date_range></report_metadata><policy_published>\
                     <domain>{domain}</domain><p>reject</p></policy_published>",
                    self.serial,
                    begin + 86_399
                );
                let mut total = 0;
                for ip in sources {
                    let count = share.max(1) + self.rng.random_range(0..=share / 2);
                    total += count;
                    let forged = SPOOF_DOMAINS[self.rng.random_range(0..SPOOF_DOMAINS.len())];
                    let _ = write!(
                        x,
                        "<record><row><source_ip>{ip}</source_ip><count>{count}</count>\
                         <policy_evaluated><disposition>reject</disposition><dkim>fail</dkim>\
                         <spf>fail</spf></policy_evaluated></row><identifiers>\
                         <header_from>{domain}</header_from></identifiers><auth_results>\
                         <dkim><domain>{forged}</domain><result>fail</result></dkim>\
                         <spf><domain>{forged}</domain><result>fail</result></spf>\
                         </auth_results></record>"
                    );
                }
                x.push_str("</feedback>\n");
                let receiver = email.rsplit('@').next().unwrap_or("reporter.example");
                out.push(GeneratedReport {
                    reporter,
                    xml: x,
                    file_stem: format!(
                        "{receiver}!{domain}!{begin}!{}!{}",
                        begin + 86_399,
                        self.serial
                    ),
                    records: sources.len(),
                    messages: total,
                    dmarc_pass: 0,
                });
            }
        }
        out
    }
}
