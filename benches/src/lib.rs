//! A seeded generator of realistic synthetic DMARC aggregate reports.
//!
//! The same seed always yields the same bytes. Reports imitate the shapes of the large
//! reporters (see dmarc-format.md §4): Google's draft dialect without `version`,
//! `envelope_from` or SPF `scope`, zipped; Microsoft's `xsd`/`xsi` declarations, envelope
//! fields and repeated DKIM entries; Mail.ru's one-line documents; Amazon SES's `version
//! 0.1`; GMX's RFC 9990 namespace. Traffic mixes a few legitimate senders with many
//! messages (mostly aligned passes, several DKIM signatures) and a long tail of failing
//! sources, over IPv4 and IPv6.
//!
//! ```
//! use dmarc_benches::{Container, Generator, Reporter};
//!
//! let mut generator = Generator::new(7);
//! let report = generator.report(Reporter::Google, "example.com", 1_700_000_000, 50);
//! assert_eq!(report.records, 50);
//! let zipped = report.container(Container::Zip);
//! let parsed = dmarc_core::parse_input(&zipped, &dmarc_core::ParseOptions::at(dmarc_benches::NOW));
//! assert_eq!(parsed[0].result.as_ref().unwrap().message_count(), report.messages);
//! ```

use std::fmt::Write as _;
use std::io::Write as _;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod spoofing;
pub use spoofing::spoofer_addresses;

/// A time of ingestion (2026-11-30) later than the periods the benchmarks and tests
/// generate (they start at 2023-11-14): parse generated reports with
/// `ParseOptions::at(NOW)`.
pub const NOW: i64 = 1_796_083_200;

/// Whose report format to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporter {
    /// Draft dialect, zipped, no `version`/`envelope_from`/`scope`, `end = begin + 86399`.
    Google,
    /// RFC 7489 with `xsd`/`xsi` declarations, envelope fields, repeated DKIM entries.
    Microsoft,
    /// Draft dialect, gzip.
    Yahoo,
    /// RFC 7489 with `human_result`.
    Mimecast,
    /// `version 0.1`, no DKIM results for some rows.
    AmazonSes,
    /// One line, single-quoted declaration, 29-digit report IDs.
    MailRu,
    /// RFC 9990 namespace, `discovery_method`, `testing`.
    Gmx,
}

impl Reporter {
    /// All reporters, in the proportions of a typical mailbox mix.
    pub const MIX: &'static [Reporter] = &[
        Reporter::Google,
        Reporter::Google,
        Reporter::Google,
        Reporter::Microsoft,
        Reporter::Microsoft,
        Reporter::Yahoo,
        Reporter::Mimecast,
        Reporter::AmazonSes,
        Reporter::MailRu,
        Reporter::Gmx,
    ];

    fn org_and_email(self) -> (&'static str, &'static str) {
        match self {
            Reporter::Google => ("google.com", "noreply-dmarc-support@google.com"),
            Reporter::Microsoft => ("Enterprise Outlook", "dmarcreport@microsoft.com"),
            Reporter::Yahoo => ("Yahoo", "dmarchelp@yahooinc.com"),
            Reporter::Mimecast => ("Mimecast", "dmarc-reports@mimecast.org"),
            Reporter::AmazonSes => ("AMAZON-SES", "postmaster@amazonses.com"),
            Reporter::MailRu => ("Mail.Ru", "dmarc_support@corp.mail.ru"),
            Reporter::Gmx => ("GMX", "dmarc_agg@gmx.net"),
        }
    }

    /// The container this reporter sends.
    pub fn usual_container(self) -> Container {
        match self {
            Reporter::Google => Container::Zip,
            _ => Container::Gzip,
        }
    }
}

/// How a report is packaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// Plain XML.
    Xml,
    /// gzip.
    Gzip,
    /// A zip archive with one entry.
    Zip,
    /// An e-mail message with the report gzipped as a base64 attachment.
    Eml,
}

/// One generated report and what a correct parser must find in it.
#[derive(Debug, Clone)]
pub struct GeneratedReport {
    /// Whose format it imitates.
    pub reporter: Reporter,
    /// The XML document.
    pub xml: String,
    /// A file name following the RFC convention.
    pub file_stem: String,
    /// Number of `<record>` elements.
    pub records: usize,
    /// Sum of `count`.
    pub messages: u64,
    /// Messages that pass DMARC.
    pub dmarc_pass: u64,
}

impl GeneratedReport {
    /// The report packaged in `container`.
    pub fn container(&self, container: Container) -> Vec<u8> {
        match container {
            Container::Xml => self.xml.clone().into_bytes(),
            Container::Gzip => gzip(self.xml.as_bytes()),
            Container::Zip => zip_one(&format!("{}.xml", self.file_stem), self.xml.as_bytes()),
            Container::Eml => email(
                &format!("{}.xml.gz", self.file_stem),
                &gzip(self.xml.as_bytes()),
            ),
        }
    }

    /// The file extension for `container`.
    pub fn file_name(&self, container: Container) -> String {
        let ext = match container {
            Container::Xml => "xml",
            Container::Gzip => "xml.gz",
            Container::Zip => "zip",
            Container::Eml => "eml",
        };
        format!("{}.{ext}", self.file_stem)
    }
}

/// A source of traffic in a report.
#[derive(Debug, Clone)]
struct Sender {
    ip: String,
    /// A legitimate sender: aligned, signed, high volume.
    legitimate: bool,
    dkim_domains: Vec<&'static str>,
}

/// Generates reports from a seed.
#[derive(Debug)]
pub struct Generator {
    rng: ChaCha8Rng,
    serial: u64,
}

const ESP_DOMAINS: &[&str] = &[
    "sendgrid.net",
    "mailchimpapp.net",
    "amazonses.com",
    "mktomail.com",
    "zendesk.com",
];
/// Addresses legitimate senders are drawn from.
const SENDER_POOL: u32 = 5_000;
const SPOOF_DOMAINS: &[&str] = &[
    "example-spoof.ru",
    "bulk-mailer.biz",
    "cheap-pills.example",
    "phish.example",
];

impl Generator {
    /// A generator; the same seed yields the same reports.
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            serial: 0,
        }
    }

    fn ipv4(&mut self) -> String {
        let a =
            [23u8, 40, 52, 64, 74, 91, 104, 142, 185, 198, 203, 209][self.rng.random_range(0..12)];
        format!(
            "{a}.{}.{}.{}",
            self.rng.random::<u8>(),
            self.rng.random::<u8>(),
            self.rng.random_range(1..255)
        )
    }

    fn ipv6(&mut self) -> String {
        let prefix = [
            "2a00:1450",
            "2603:10b6",
            "2a01:111",
            "2001:4860",
            "2a02:6b8",
        ][self.rng.random_range(0..5)];
        format!(
            "{prefix}:{:x}:{:x}::{:x}",
            self.rng.random::<u16>(),
            self.rng.random::<u16>(),
            self.rng.random_range(1..0xffffu32)
        )
    }

    /// A legitimate sender: one of `SENDER_POOL` fixed addresses (an ESP's outbound
    /// servers), the first ones far more often, as real reports show the same servers daily.
    fn pooled_ip(&mut self) -> String {
        let u: f64 = self.rng.random();
        let k = (f64::from(SENDER_POOL) * u * u * u) as u32;
        if k % 5 == 4 {
            format!("2a00:1450:4864:{:x}::{:x}", k / 256, 1 + k % 256)
        } else {
            let a = [64u8, 74, 104, 142, 198, 209][(k % 6) as usize];
            format!("{a}.{}.{}.{}", (k / 6) % 256, (k / 1536) % 256, 1 + k % 254)
        }
    }

    fn senders(&mut self, records: usize) -> Vec<Sender> {
        // About four rows in ten from legitimate senders (a fixed pool), the rest a long tail.
        (0..records)
            .map(|i| {
                let legitimate = i % 10 < 3 || self.rng.random_bool(0.2);
                let ip = if legitimate {
                    self.pooled_ip()
                } else if self.rng.random_bool(0.2) {
                    self.ipv6()
                } else {
                    self.ipv4()
                };
                let signatures = if legitimate {
                    self.rng.random_range(1..4)
                } else {
                    self.rng.random_range(0..2)
                };
                let dkim_domains = (0..signatures)
                    .map(|k| {
                        if k == 0 && legitimate {
                            ""
                        } else if legitimate {
                            ESP_DOMAINS[self.rng.random_range(0..ESP_DOMAINS.len())]
                        } else {
                            SPOOF_DOMAINS[self.rng.random_range(0..SPOOF_DOMAINS.len())]
                        }
                    })
                    .collect();
                Sender {
                    ip,
                    legitimate,
                    dkim_domains,
                }
            })
            .collect()
    }

    /// One report of `records` rows for `domain`, period starting at `begin`.
    pub fn report(
        &mut self,
        reporter: Reporter,
        domain: &str,
        begin: i64,
        records: usize,
    ) -> GeneratedReport {
        self.serial += 1;
        let (org, email) = reporter.org_and_email();
        let end = match reporter {
            Reporter::Google | Reporter::Yahoo => begin + 86_399,
            _ => begin + 86_400,
        };
        let report_id = match reporter {
            Reporter::MailRu => format!("{:020}{:09}", self.rng.random::<u64>(), self.serial),
            Reporter::AmazonSes => format!(
                "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                self.rng.random::<u32>(),
                self.rng.random::<u16>(),
                self.serial % 4096,
                self.rng.random_range(0..4096u32),
                self.rng.random::<u64>() >> 16
            ),
            Reporter::Mimecast => format!(
                "{:016x}{:016x}{:016x}{:016x}",
                self.rng.random::<u64>(),
                self.rng.random::<u64>(),
                self.serial,
                self.rng.random::<u64>()
            ),
            _ => format!(
                "{}{:04}",
                self.rng
                    .random_range(1_000_000_000_000_000u64..9_999_999_999_999_999),
                self.serial % 10_000
            ),
        };
        let p = ["none", "quarantine", "reject"][self.rng.random_range(0..3)];
        let nl = if reporter == Reporter::MailRu {
            ""
        } else {
            "\n"
        };
        let ind = |n: usize| {
            if reporter == Reporter::MailRu {
                String::new()
            } else {
                "  ".repeat(n)
            }
        };

        let mut x = String::with_capacity(records * 520 + 1024);
        match reporter {
            Reporter::MailRu => x.push_str("<?xml version='1.0' encoding='utf-8'?>"),
            _ => x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        }
        match reporter {
            Reporter::Microsoft => x.push_str("<feedback xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n"),
            Reporter::Gmx => x.push_str("<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">\n"),
            _ => write!(x, "<feedback>{nl}").unwrap_or_default(),
        }
        match reporter {
            Reporter::Microsoft | Reporter::Mimecast | Reporter::Gmx => {
                write!(x, "{}<version>1.0</version>{nl}", ind(1))
            }
            Reporter::AmazonSes => write!(x, "{}<version>0.1</version>{nl}", ind(1)),
            _ => Ok(()),
        }
        .unwrap_or_default();
        let _ = write!(
            x,
            "{i1}<report_metadata>{nl}{i2}<org_name>{org}</org_name>{nl}{i2}<email>{email}</email>{nl}{i2}<report_id>{report_id}</report_id>{nl}{i2}<date_range>{nl}{i3}<begin>{begin}</begin>{nl}{i3}<end>{end}</end>{nl}{i2}</date_range>{nl}{i1}</report_metadata>{nl}",
            i1 = ind(1),
            i2 = ind(2),
            i3 = ind(3)
        );
        let _ = write!(
            x,
            "{i1}<policy_published>{nl}{i2}<domain>{domain}</domain>{nl}",
            i1 = ind(1),
            i2 = ind(2)
        );
        if reporter == Reporter::Gmx {
            let _ = write!(
                x,
                "{i2}<discovery_method>psl</discovery_method>{nl}",
                i2 = ind(2)
            );
        }
        let _ = write!(
            x,
            "{i2}<adkim>r</adkim>{nl}{i2}<aspf>r</aspf>{nl}{i2}<p>{p}</p>{nl}{i2}<sp>{p}</sp>{nl}",
            i2 = ind(2)
        );
        match reporter {
            Reporter::Gmx => {
                let _ = write!(x, "{i2}<testing>n</testing>{nl}", i2 = ind(2));
            }
            Reporter::Google => {
                let _ = write!(x, "{i2}<pct>100</pct>{nl}{i2}<np>{p}</np>{nl}", i2 = ind(2));
            }
            _ => {
                let _ = write!(x, "{i2}<pct>100</pct>{nl}{i2}<fo>0</fo>{nl}", i2 = ind(2));
            }
        }
        let _ = write!(x, "{i1}</policy_published>{nl}", i1 = ind(1));

        let mut messages = 0u64;
        let mut dmarc_pass = 0u64;
        for sender in self.senders(records) {
            let count: u64 = if sender.legitimate {
                // Heavy-tailed volumes for real senders.
                let e: f64 = self.rng.random_range(0.0..12.0);
                e.exp2() as u64 + 1
            } else {
                self.rng.random_range(1..4)
            };
            let dkim_aligned = sender.legitimate && self.rng.random_bool(0.95);
            let spf_aligned = sender.legitimate && self.rng.random_bool(0.8);
            let pass = dkim_aligned || spf_aligned;
            // Failing mail gets the policy, except for a few local-policy overrides.
            let overridden = !pass && p != "none" && self.rng.random_bool(0.05);
            let disposition = if pass || overridden { "none" } else { p };
            messages += count;
            if pass {
                dmarc_pass += count;
            }
            let verdict = |ok: bool| if ok { "pass" } else { "fail" };
            let _ = write!(
                x,
                "{i1}<record>{nl}{i2}<row>{nl}{i3}<source_ip>{ip}</source_ip>{nl}{i3}<count>{count}</count>{nl}{i3}<policy_evaluated>{nl}{i4}<disposition>{disposition}</disposition>{nl}{i4}<dkim>{d}</dkim>{nl}{i4}<spf>{s}</spf>{nl}",
                i1 = ind(1),
                i2 = ind(2),
                i3 = ind(3),
                i4 = ind(4),
                ip = sender.ip,
                d = verdict(dkim_aligned),
                s = verdict(spf_aligned),
            );
            if !pass && disposition == "none" && p != "none" {
                let _ = write!(
                    x,
                    "{i4}<reason>{nl}{i5}<type>local_policy</type>{nl}{i5}<comment>arc=pass</comment>{nl}{i4}</reason>{nl}",
                    i4 = ind(4),
                    i5 = ind(5)
                );
            }
            let _ = write!(
                x,
                "{i3}</policy_evaluated>{nl}{i2}</row>{nl}{i2}<identifiers>{nl}",
                i2 = ind(2),
                i3 = ind(3)
            );
            let mail_from = if sender.legitimate {
                format!("bounce.{domain}")
            } else {
                SPOOF_DOMAINS[self.rng.random_range(0..SPOOF_DOMAINS.len())].to_owned()
            };
            if reporter == Reporter::Microsoft {
                let _ = write!(
                    x,
                    "{i3}<envelope_to>recipient.example</envelope_to>{nl}",
                    i3 = ind(3)
                );
            }
            if matches!(
                reporter,
                Reporter::Microsoft | Reporter::Mimecast | Reporter::Gmx | Reporter::AmazonSes
            ) {
                let _ = write!(
                    x,
                    "{i3}<envelope_from>{mail_from}</envelope_from>{nl}",
                    i3 = ind(3)
                );
            }
            let _ = write!(
                x,
                "{i3}<header_from>{domain}</header_from>{nl}{i2}</identifiers>{nl}{i2}<auth_results>{nl}",
                i2 = ind(2),
                i3 = ind(3)
            );
            let repeat = if reporter == Reporter::Microsoft && !sender.dkim_domains.is_empty() {
                2
            } else {
                1
            };
            for d in sender
                .dkim_domains
                .iter()
                .flat_map(|d| std::iter::repeat_n(d, repeat))
            {
                let (d_domain, ok) = if d.is_empty() {
                    (domain, dkim_aligned)
                } else {
                    (*d, sender.legitimate)
                };
                let selector = if d.is_empty() { "s2026" } else { "esp1" };
                let _ = write!(
                    x,
                    "{i3}<dkim>{nl}{i4}<domain>{d_domain}</domain>{nl}{i4}<selector>{selector}</selector>{nl}{i4}<result>{r}</result>{nl}",
                    i3 = ind(3),
                    i4 = ind(4),
                    r = verdict(ok)
                );
                if reporter == Reporter::Mimecast {
                    let _ = write!(
                        x,
                        "{i4}<human_result>{r}</human_result>{nl}",
                        i4 = ind(4),
                        r = verdict(ok)
                    );
                }
                let _ = write!(x, "{i3}</dkim>{nl}", i3 = ind(3));
            }
            let spf_result = if spf_aligned {
                "pass"
            } else if sender.legitimate {
                "softfail"
            } else {
                "fail"
            };
            let scope = if matches!(
                reporter,
                Reporter::Google | Reporter::Yahoo | Reporter::AmazonSes
            ) {
                String::new()
            } else {
                format!("{i4}<scope>mfrom</scope>{nl}", i4 = ind(4))
            };
            let _ = write!(
                x,
                "{i3}<spf>{nl}{i4}<domain>{mail_from}</domain>{nl}{scope}{i4}<result>{spf_result}</result>{nl}{i3}</spf>{nl}{i2}</auth_results>{nl}{i1}</record>{nl}",
                i1 = ind(1),
                i2 = ind(2),
                i3 = ind(3),
                i4 = ind(4)
            );
        }
        x.push_str("</feedback>\n");
        let receiver = email.rsplit('@').next().unwrap_or("reporter.example");
        GeneratedReport {
            reporter,
            xml: x,
            file_stem: format!("{receiver}!{domain}!{begin}!{end}!{}", self.serial),
            records,
            messages,
            dmarc_pass,
        }
    }

    /// A realistic batch: `reports` reports over `domains` policy domains and consecutive
    /// days from `first_day` (UTC seconds), from the reporter mix, totalling about
    /// `total_records` rows (report sizes vary from a handful of rows to many thousands).
    pub fn batch(
        &mut self,
        reports: usize,
        domains: usize,
        first_day: i64,
        total_records: usize,
    ) -> Vec<GeneratedReport> {
        let reports = reports.max(1);
        let mean = (total_records / reports).max(1);
        let mut left = total_records;
        (0..reports)
            .map(|i| {
                let remaining = reports - i;
                let size = if remaining == 1 {
                    left.max(1)
                } else {
                    let size = self
                        .rng
                        .random_range(1..=mean * 2)
                        .min(left.saturating_sub(remaining - 1))
                        .max(1);
                    left = left.saturating_sub(size);
                    size
                };
                let reporter = Reporter::MIX[self.rng.random_range(0..Reporter::MIX.len())];
                let domain = format!("domain{}.example", self.rng.random_range(0..domains.max(1)));
                let day = first_day + 86_400 * (i as i64 / (domains.max(1) as i64 * 3)).min(365);
                self.report(reporter, &domain, day, size)
            })
            .collect()
    }
}

/// gzip at the default level.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// A zip archive with one deflated entry.
pub fn zip_one(name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().large_file(bytes.len() >= u32::MAX as usize);
    if w.start_file(name, options).is_err() || w.write_all(bytes).is_err() {
        return Vec::new();
    }
    w.finish()
        .map(std::io::Cursor::into_inner)
        .unwrap_or_default()
}

/// An e-mail message in the shape reporters send: a text part and the report attached
/// (gzip).
pub fn email(name: &str, attachment: &[u8]) -> Vec<u8> {
    email_with(name, "application/gzip", attachment)
}

/// An e-mail message with a text part and `attachment` as `content_type`, base64.
pub fn email_with(name: &str, content_type: &str, attachment: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "Return-Path: <dmarc@reporter.example>\r\nFrom: dmarc@reporter.example\r\nTo: rua@example.com\r\n\
         Subject: Report Domain: example.com Submitter: reporter.example Report-ID: {name}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n\
         --=_b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThis is an aggregate report.\r\n\
         --=_b\r\nContent-Type: {content_type}; name=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n"
    );
    base64_lines(attachment, &mut m);
    m.push_str("--=_b--\r\n");
    m.into_bytes()
}

/// `message` forwarded by a person: a note and the original as a `message/rfc822` part.
pub fn forwarded(message: &[u8]) -> Vec<u8> {
    let mut m = String::from(
        "From: postmaster@example.com\r\nTo: dmarc@example.com\r\nSubject: Fwd: DMARC report\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_fwd\"\r\n\r\n\
         --=_fwd\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSee the report below.\r\n\
         --=_fwd\r\nContent-Type: message/rfc822\r\n\r\n",
    );
    m.push_str(&String::from_utf8_lossy(message));
    m.push_str("\r\n--=_fwd--\r\n");
    m.into_bytes()
}

fn base64_lines(bytes: &[u8], out: &mut String) {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for line in bytes.chunks(57) {
        for chunk in line.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for k in 0..4 {
                out.push(if k <= chunk.len() {
                    char::from(A[((n >> (18 - 6 * k)) & 63) as usize])
                } else {
                    '='
                });
            }
        }
        out.push_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmarc_core::{ParseOptions, parse_input};

    #[test]
    fn same_seed_same_bytes() {
        let a = Generator::new(1).report(Reporter::Microsoft, "example.com", 1_700_000_000, 20);
        let b = Generator::new(1).report(Reporter::Microsoft, "example.com", 1_700_000_000, 20);
        assert_eq!(a.xml, b.xml);
        assert_ne!(
            a.xml,
            Generator::new(2)
                .report(Reporter::Microsoft, "example.com", 1_700_000_000, 20)
                .xml
        );
    }

    #[test]
    fn every_reporter_and_container_parses_to_the_generated_totals() {
        let mut generator = Generator::new(42);
        for &reporter in Reporter::MIX {
            let report = generator.report(reporter, "example.com", 1_700_000_000, 30);
            for container in [
                Container::Xml,
                Container::Gzip,
                Container::Zip,
                Container::Eml,
            ] {
                let parsed =
                    parse_input(&report.container(container), &ParseOptions::at(crate::NOW));
                assert_eq!(parsed.len(), 1, "{reporter:?} {container:?}");
                let got = parsed[0]
                    .result
                    .as_ref()
                    .unwrap_or_else(|e| panic!("{reporter:?} {container:?}: {e}"));
                assert_eq!(got.records.len(), report.records);
                assert_eq!(got.message_count(), report.messages);
                let pass: u64 = got
                    .records
                    .iter()
                    .filter(|r| r.dmarc_pass())
                    .map(|r| r.count)
                    .sum();
                assert_eq!(pass, report.dmarc_pass);
                assert!(
                    got.diagnostics
                        .iter()
                        .all(|d| d.severity == dmarc_core::Severity::Info),
                    "{reporter:?}: {:?}",
                    got.diagnostics
                );
            }
        }
    }

    #[test]
    fn batches_hit_the_requested_size() {
        let batch = Generator::new(3).batch(50, 5, 1_700_000_000, 10_000);
        assert_eq!(batch.len(), 50);
        assert_eq!(batch.iter().map(|r| r.records).sum::<usize>(), 10_000);
    }
}
