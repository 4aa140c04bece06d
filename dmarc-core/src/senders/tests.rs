use super::*;
use crate::{
    AuthResults, DkimAuthResult, DmarcResult, ParseOptions, PolicyEvaluated, PolicyOverrideReason,
    parse_xml,
};

/// A record of `count` messages with the aligned verdicts, passing DKIM signatures by
/// `signed` and override reasons.
fn record(
    count: u64,
    (dkim, spf): (bool, bool),
    signed: &[&str],
    reasons: &[(OverrideType, &str)],
) -> Record {
    let verdict = |pass: bool| {
        Some(if pass {
            DmarcResult::Pass
        } else {
            DmarcResult::Fail
        })
    };
    Record {
        source_ip: Some("192.0.2.1".parse().unwrap()),
        count,
        policy_evaluated: PolicyEvaluated {
            disposition: None,
            dkim: verdict(dkim),
            spf: verdict(spf),
            reason: reasons
                .iter()
                .map(|(kind, comment)| PolicyOverrideReason {
                    kind: Some(kind.clone()),
                    comment: Some((*comment).to_owned()),
                })
                .collect(),
        },
        identifiers: Default::default(),
        auth_results: AuthResults {
            dkim: signed
                .iter()
                .map(|d| DkimAuthResult {
                    domain: Some((*d).to_owned()),
                    result: Some(DkimResult::Pass),
                    ..Default::default()
                })
                .chain(std::iter::once(DkimAuthResult {
                    domain: Some("failed.example".to_owned()),
                    result: Some(DkimResult::Fail),
                    ..Default::default()
                }))
                .collect(),
            spf: Vec::new(),
        },
        extensions: Vec::new(),
    }
}

fn evidence(records: &[Record]) -> SenderEvidence {
    let mut e = SenderEvidence::default();
    records.iter().for_each(|r| e.add(r));
    e
}

fn class(
    services: &Services,
    records: &[Record],
    asn: Option<u32>,
) -> (SenderClass, Option<ServiceMatch>) {
    let e = evidence(records);
    let service = services.identify(&e, asn);
    (e.classify(service.as_ref()), service)
}

#[test]
fn signing_domains_match_on_label_boundaries() {
    let s = Services::curated();
    let name = |d: &str| s.by_dkim_domain(d).map(|s| s.name.as_str());
    assert_eq!(name("sendgrid.net"), Some("SendGrid"));
    assert_eq!(name("EM1234.SendGrid.NET."), Some("SendGrid"));
    assert_eq!(
        name("example-com.20230601.gappssmtp.com"),
        Some("Google Workspace")
    );
    assert_eq!(name("contoso.onmicrosoft.com"), Some("Microsoft 365"));
    assert_eq!(name("notsendgrid.net"), None);
    assert_eq!(name("googlegroups.com"), None);
    assert_eq!(
        s.by_asn(15169).map(|s| s.name.as_str()),
        Some("Google Workspace")
    );
    assert_eq!(s.by_asn(16509).map(|s| s.name.as_str()), Some("Amazon SES"));
    assert!(s.by_asn(13335).is_none());
}

#[test]
fn every_class_from_its_evidence() {
    let s = Services::curated();
    // Aligned: 3 of 5 messages pass; the service is still named.
    let (c, m) = class(
        &s,
        &[
            record(3, (true, false), &["example.com"], &[]),
            record(2, (false, false), &[], &[]),
        ],
        Some(8075),
    );
    assert_eq!(c, SenderClass::AlignedSender);
    assert_eq!(m.unwrap().matched_by, MatchedBy::Asn);
    // A service signing with its own domain, SPF not aligned: a configuration to fix.
    let (c, m) = class(
        &s,
        &[record(10, (false, false), &["em42.sendgrid.net"], &[])],
        None,
    );
    assert_eq!(c, SenderClass::KnownServiceNotAligned);
    let m = m.unwrap();
    assert_eq!(
        (m.name.as_str(), m.matched_by),
        ("SendGrid", MatchedBy::Dkim)
    );
    assert_eq!(m.evidence, "em42.sendgrid.net");
    // A mailing list re-signing with its own domain.
    let (c, m) = class(
        &s,
        &[record(4, (false, false), &["lists.example.org"], &[])],
        None,
    );
    assert_eq!((c, m), (SenderClass::Forwarder, None));
    // ARC overrides name a forwarder even on a service's network; arc=fail does not.
    let arc = [(OverrideType::LocalPolicy, "arc=pass as.1.google.com=pass")];
    let (c, _) = class(&s, &[record(2, (false, false), &[], &arc)], Some(15169));
    assert_eq!(c, SenderClass::Forwarder);
    let arc_fail = [(OverrideType::LocalPolicy, "arc=fail")];
    let (c, m) = class(
        &s,
        &[record(2, (false, false), &[], &arc_fail)],
        Some(15169),
    );
    assert_eq!(c, SenderClass::KnownServiceNotAligned);
    assert_eq!(m.unwrap().evidence, "AS15169");
    let fwd = [(OverrideType::Forwarded, "")];
    assert_eq!(
        class(&s, &[record(1, (false, false), &[], &fwd)], None).0,
        SenderClass::Forwarder
    );
    // Nothing known: unknown.
    let (c, m) = class(&s, &[record(700, (false, false), &[], &[])], Some(64500));
    assert_eq!((c, m), (SenderClass::Unknown, None));
}

#[test]
fn user_entries_come_first_and_replace_curated_names() {
    let s = Services::with(vec![
        Service {
            name: "Our CRM".into(),
            asns: vec![64500, 15169],
            dkim_domains: vec!["CRM.Example.NET.".into()],
        },
        Service {
            name: "sendgrid".into(),
            asns: vec![],
            dkim_domains: vec![],
        },
    ]);
    assert_eq!(s.by_asn(64500).unwrap().name, "Our CRM");
    assert_eq!(s.by_asn(15169).unwrap().name, "Our CRM");
    assert_eq!(
        s.by_dkim_domain("mail.crm.example.net").unwrap().name,
        "Our CRM"
    );
    // The curated SendGrid entry is replaced by the user's, which names nothing.
    assert!(s.by_dkim_domain("sendgrid.net").is_none());
    assert!(s.by_asn(11377).is_none());
    assert_eq!(s.entries().len(), CURATED.len() + 1);
}

#[test]
fn signing_domains_are_bounded() {
    let many: Vec<String> = (0..100).map(|i| format!("d{i}.example")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let e = evidence(&[record(1, (false, false), &refs, &[])]);
    assert_eq!(e.dkim_domains.len(), MAX_DKIM_DOMAINS);
    assert_eq!(e.unaligned_dkim_pass, 1);
}

#[test]
fn evidence_per_source_and_domain_of_parsed_reports() {
    let xml = br#"<feedback><report_metadata><org_name>x</org_name><email>a@x</email>
      <report_id>1</report_id><date_range><begin>0</begin><end>86399</end></date_range></report_metadata>
      <policy_published><domain> Example.COM </domain><p>reject</p></policy_published>
      <record><row><source_ip>192.0.2.7</source_ip><count>5</count><policy_evaluated>
        <disposition>reject</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>
        <identifiers><header_from>example.com</header_from></identifiers>
        <auth_results><dkim><domain>bounces.sendgrid.net</domain><result>pass</result></dkim>
        <spf><domain>sendgrid.net</domain><result>pass</result></spf></auth_results></record>
    </feedback>"#;
    let report = parse_xml(xml, &ParseOptions::at(0)).unwrap();
    let all = sender_evidence(std::slice::from_ref(&report), &Filter::default());
    let e = &all[&("192.0.2.7".parse().unwrap(), "example.com".to_owned())];
    assert_eq!((e.messages, e.dmarc_pass, e.unaligned_dkim_pass), (5, 0, 5));
    assert_eq!(
        e.dkim_domains.keys().collect::<Vec<_>>(),
        ["bounces.sendgrid.net"]
    );
    let ids = Services::curated().identify_all(all, |_| None);
    let ids = &ids[&"192.0.2.7".parse().unwrap()];
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].class, SenderClass::KnownServiceNotAligned);
    assert_eq!(ids[0].service.as_ref().unwrap().name, "SendGrid");
    let json = serde_json::to_value(&ids[0]).unwrap();
    assert_eq!(json["class"], "known_service_not_aligned");
    assert_eq!(json["dkim_domains"]["bounces.sendgrid.net"], 5);
}
