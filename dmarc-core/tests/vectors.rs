//! The synthetic test vectors of dmarc-format.md §7: good reports, containers, malformed
//! XML, odd values and attacks.
//!
//! The suite stays whole in one file: every file under `tests/` is a test binary of its
//! own, linked against the whole crate graph, so one suite per subject keeps builds short.

mod common;

use common::*;
use dmarc_core::DiagnosticCode as Code;
use dmarc_core::*;

// ----- good reports -----------------------------------------------------------------------

#[test]
fn rfc9990_report_with_every_new_element() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0" xmlns:v="urn:example:vendor">
  <version>1.0</version>
  <report_metadata>
    <org_name>Example Receiver</org_name><email>dmarc@receiver.example</email>
    <report_id>7d8f2a0e-1c5b-4a4e-9f1e-2b0d6f3c9a11</report_id>
    <date_range><begin>1717200000</begin><end>1717286400</end></date_range>
    <error lang="en">DNS timeout for one lookup</error>
    <generator>ExampleMTA 4.2</generator>
  </report_metadata>
  <policy_published>
    <domain>example.com</domain><discovery_method>treewalk</discovery_method>
    <p>reject</p><sp>quarantine</sp><np>reject</np><adkim>s</adkim><aspf>r</aspf><testing>n</testing>
  </policy_published>
  <extension><v:receiver>mx1</v:receiver></extension>
  <record>
    <row><source_ip>2001:db8::25</source_ip><count>7</count>
      <policy_evaluated><disposition>pass</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated>
    </row>
    <identifiers><envelope_from></envelope_from><header_from>example.com</header_from></identifiers>
    <auth_results>
      <dkim><result>pass</result><domain>example.com</domain><selector>s2026</selector><human_result lang="en">good</human_result></dkim>
      <spf><domain>bounce.example.org</domain><scope>mfrom</scope><result>policy</result><human_result>x</human_result></spf>
    </auth_results>
    <v:source>relay</v:source>
  </record>
</feedback>"#;
    let r = one(xml.as_bytes());
    assert_eq!(r.dialect, Dialect::Rfc9990);
    assert_eq!(
        r.namespace.as_deref(),
        Some("urn:ietf:params:xml:ns:dmarc-2.0")
    );
    assert_eq!(
        r.report_metadata.generator.as_deref(),
        Some("ExampleMTA 4.2")
    );
    assert_eq!(
        r.report_metadata.error,
        vec!["DNS timeout for one lookup".to_owned()]
    );
    let p = &r.policy_published;
    assert_eq!(p.np, Some(Disposition::Reject));
    assert_eq!(p.testing, Some(Testing::No));
    assert_eq!(p.discovery_method, Some(DiscoveryMethod::TreeWalk));
    assert_eq!(p.pct, None);
    assert_eq!(r.policy_effective.pct, 100);
    assert_eq!(r.policy_effective.sp, Disposition::Quarantine);
    let rec = &r.records[0];
    assert_eq!(rec.policy_evaluated.disposition, Some(Disposition::Pass));
    assert_eq!(
        rec.identifiers.envelope_from, None,
        "empty envelope_from is a null reverse-path"
    );
    assert_eq!(rec.auth_results.spf[0].result, Some(SpfResult::Policy));
    assert_eq!(r.extensions.len(), 1);
    assert_eq!(rec.extensions.len(), 1);
    assert_eq!(rec.extensions[0].xml, "<v:source>relay</v:source>");
}

#[test]
fn google_style_draft_report_in_a_zip() {
    let xml = report(
        Some(
            "<org_name>google.com</org_name><email>noreply-dmarc-support@google.com</email><extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info><report_id>5264580628977113351</report_id><date_range><begin>1669507200</begin><end>1669593599</end></date_range>",
        ),
        "<domain>example.com</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct><np>none</np>",
        "<record><row><source_ip>2a01:4f9:c011:b43c::1</source_ip><count>1</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers><auth_results><dkim><domain>example.com</domain><result>pass</result><selector>default</selector></dkim><spf><domain>example.com</domain><result>pass</result></spf></auth_results></record>",
    );
    let data = zip(&[(
        "google.com!example.com!1669507200!1669593599.xml",
        xml.as_bytes(),
    )]);
    let r = one(&data);
    assert_eq!(r.version, None);
    assert_eq!(
        r.records[0].source_ip,
        Some("2a01:4f9:c011:b43c::1".parse().unwrap())
    );
    assert_eq!(r.records[0].identifiers.envelope_from, None);
    assert_eq!(r.records[0].auth_results.spf[0].scope, None);
    assert!(has(&r, Code::ScopeOmitted));
    assert!(
        r.diagnostics.iter().all(|d| d.severity == Severity::Info),
        "{:?}",
        r.diagnostics
    );
}

#[test]
fn microsoft_style_report() {
    let dkim = "<dkim><domain>example.com</domain><selector>selector1</selector><result>pass</result></dkim>";
    let xml = format!(
        r#"<?xml version="1.0"?>
<feedback xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <version>1.0</version>
  <report_metadata><org_name>Outlook.com</org_name><email>dmarcreport@microsoft.com</email>
    <report_id>a5fc1f7e8b8b4d4e9f1f2c3d4e5f6a7b</report_id>
    <date_range><begin>1700006400</begin><end>1700092800</end></date_range></report_metadata>
  <policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf><p>quarantine</p><sp>quarantine</sp><pct>100</pct><fo>0</fo></policy_published>
  <record><row><source_ip>203.0.113.5</source_ip><count>3</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
    <identifiers><envelope_to>example.org</envelope_to><envelope_from>example.com</envelope_from><header_from>example.com</header_from></identifiers>
    <auth_results>{dkim}{dkim}<spf><domain>example.com</domain><scope>mfrom</scope><result>pass</result></spf></auth_results></record>
</feedback>"#
    );
    let r = one(xml.as_bytes());
    assert_eq!(r.dialect, Dialect::Rfc7489);
    assert_eq!(
        r.namespace, None,
        "xsd/xsi declarations are not the report namespace"
    );
    assert_eq!(
        r.records[0].auth_results.dkim.len(),
        2,
        "repeated DKIM entries are kept"
    );
    assert_eq!(r.policy_published.fo.as_deref(), Some("0"));
    assert_eq!(
        r.records[0].identifiers.envelope_to.as_deref(),
        Some("example.org")
    );
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
}

#[test]
fn mail_ru_one_liner_with_single_quoted_declaration() {
    let xml = "<?xml version='1.0' encoding='utf-8'?><feedback><report_metadata><org_name>Mail.Ru</org_name><email>dmarc_support@corp.mail.ru</email><report_id>97488590493706875417386272001</report_id><date_range><begin>1667865600</begin><end>1667952000</end></date_range></report_metadata><policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf><p>reject</p><sp>reject</sp><pct>100</pct></policy_published><record><row><source_ip>198.51.100.7</source_ip><count>1</count><policy_evaluated><disposition>reject</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers><auth_results><spf><domain>spoof.example</domain><scope>mfrom</scope><result>fail</result></spf></auth_results></record></feedback>";
    let r = one(xml.as_bytes());
    assert_eq!(
        r.report_metadata.report_id, "97488590493706875417386272001",
        "29 digits stay text"
    );
    assert_eq!(
        r.records[0].policy_evaluated.disposition,
        Some(Disposition::Reject)
    );
}

#[test]
fn amazon_ses_style_report_as_octet_stream_gzip_in_mail() {
    let xml = report(
        Some("<org_name>AMAZON-SES</org_name><email>postmaster@amazonses.com</email><report_id>0f5d2e3c-5b8a-4f7e-9a1b-2c3d4e5f6a7b</report_id><date_range><begin>1663545600</begin><end>1663632000</end></date_range>"),
        POLICY,
        &record("192.0.2.44", 12, "fail", "pass"),
    )
    .replace("<feedback>", "<feedback><version>0.1</version>");
    let mail = message(
        "Dmarc Aggregate Report Domain: {example.com} Submitter: {Amazon SES}",
        &[attachment(
            "application/octet-stream",
            "amazonses.com!example.com!1663545600!1663632000.xml.gz",
            &gzip(xml.as_bytes()),
        )],
    );
    let parsed = parse_input(&mail, &common::options());
    assert_eq!(parsed.len(), 1);
    assert_eq!(
        parsed[0].part.as_deref(),
        Some("attachment 'amazonses.com!example.com!1663545600!1663632000.xml.gz'")
    );
    let r = parsed[0].result.as_ref().unwrap();
    assert_eq!(r.version.as_deref(), Some("0.1"));
    assert_eq!(r.message_count(), 12);
}

// ----- containers -------------------------------------------------------------------------

#[test]
fn gzip_with_trailing_crlf_is_fine_and_trailing_garbage_is_flagged() {
    let mut data = gzip(simple().as_bytes());
    data.extend_from_slice(b"\r\n");
    let r = one(&data);
    assert!(!has(&r, Code::TrailingData));
    data.extend_from_slice(b"garbage");
    assert!(has(&one(&data), Code::TrailingData));
}

#[test]
fn zip_labelled_gzip_is_sniffed_as_zip() {
    let payload = zip(&[("report.xml", simple().as_bytes())]);
    let mail = message(
        "Report Domain: example.com",
        &[attachment("application/gzip", "report.xml.gz", &payload)],
    );
    assert_eq!(one(&mail).message_count(), 2);
}

#[test]
fn zip_with_a_traversal_entry_takes_the_safe_one() {
    let data = zip(&[
        ("../x.xml", b"<feedback/>"),
        ("report.xml", simple().as_bytes()),
    ]);
    let parsed = parse_input(&data, &common::options());
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].part.as_deref(), Some("entry 'report.xml'"));
    let r = parsed[0].result.as_ref().unwrap();
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.code == Code::ArchiveEntryIgnored)
        .expect("diagnostic");
    assert!(d.raw.as_deref().unwrap().contains("../x.xml"), "{d:?}");
}

#[test]
fn zip_prefers_the_xml_entry_and_refuses_too_many_entries() {
    let data = zip(&[("readme.txt", b"hello"), ("r.XML", simple().as_bytes())]);
    assert_eq!(one(&data).message_count(), 2);
    let many: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| (format!("{i}.xml"), simple().into_bytes()))
        .collect();
    let refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    assert_eq!(rejected(&zip(&refs)).kind, ErrorKind::LimitExceeded);
}

#[test]
fn zip_holding_a_gzip_and_gzip_in_gzip() {
    let r = one(&zip(&[("report.xml.gz", &gzip(simple().as_bytes()))]));
    assert!(has(&r, Code::NestedCompression));
    assert!(has(
        &one(&gzip(&gzip(simple().as_bytes()))),
        Code::NestedCompression
    ));
    // Three layers is one more than any reporter uses.
    assert_eq!(
        rejected(&gzip(&gzip(&gzip(simple().as_bytes())))).kind,
        ErrorKind::LimitExceeded
    );
}

#[test]
fn zlib_stream() {
    assert_eq!(one(&zlib(simple().as_bytes())).message_count(), 2);
}

#[test]
fn uncompressed_text_xml_attachment_in_quoted_printable() {
    let xml = simple();
    let qp = xml.replace('=', "=3D");
    let part = format!(
        "Content-Type: text/xml; charset=us-ascii\r\nContent-Transfer-Encoding: quoted-printable\r\n\
         Content-Disposition: attachment; filename=\"report.xml\"\r\n\r\n{qp}\r\n"
    );
    let r = one(&message("Report Domain: example.com", &[part]));
    assert_eq!(r.message_count(), 2);
}

#[test]
fn forwarded_report_inside_message_rfc822() {
    let inner = message(
        "Report Domain: example.com",
        &[attachment(
            "application/gzip",
            "inner.xml.gz",
            &gzip(simple().as_bytes()),
        )],
    );
    let part = format!(
        "Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n{}",
        String::from_utf8(inner).unwrap()
    );
    let outer = message("Fwd: Report Domain: example.com", &[part]);
    let parsed = parse_input(&outer, &common::options());
    assert_eq!(parsed.len(), 1, "{parsed:?}");
    let part = parsed[0].part.as_deref().unwrap();
    assert!(
        part.starts_with("forwarded message") && part.ends_with("attachment 'inner.xml.gz'"),
        "{part}"
    );
    assert!(parsed[0].result.is_ok());
}

#[test]
fn one_message_with_several_reports_and_rfc2231_names() {
    let second = report(
        None,
        "<domain>example.org</domain><p>reject</p>",
        &record("192.0.2.9", 5, "pass", "pass"),
    );
    let rfc2231 = format!(
        "Content-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename*=utf-8''r%C3%A9port.xml.gz\r\n\r\n{}\r\n",
        base64(&gzip(second.as_bytes()))
    );
    let mail = message(
        "two reports",
        &[
            attachment(
                "application/zip",
                "a.zip",
                &zip(&[("a.xml", simple().as_bytes())]),
            ),
            rfc2231,
        ],
    );
    let parsed = parse_input(&mail, &common::options());
    assert_eq!(parsed.len(), 2);
    assert_eq!(
        parsed[1].part.as_deref(),
        Some("attachment 'réport.xml.gz'")
    );
    let total: u64 = parsed
        .iter()
        .map(|p| p.result.as_ref().unwrap().message_count())
        .sum();
    assert_eq!(total, 7);
}

#[test]
fn message_without_a_report_names_its_parts() {
    let mail = message(
        "hello",
        &[attachment("image/png", "logo.png", b"\x89PNG\r\n\x1a\n")],
    );
    let e = rejected(&mail);
    assert_eq!(e.kind, ErrorKind::NoReport);
    assert!(e.message.contains("image/png 'logo.png'"), "{e}");
}

#[test]
fn html_preview_part_is_ignored() {
    let html = "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body>[Preview] report</body></html>\r\n".to_owned();
    let mail = message(
        "[Preview] Report Domain: example.com",
        &[
            html,
            attachment("application/gzip", "r.xml.gz", &gzip(simple().as_bytes())),
        ],
    );
    assert_eq!(parse(&mail).len(), 1);
}

#[test]
fn mbox_with_two_messages() {
    let m1 = message(
        "one",
        &[attachment(
            "application/gzip",
            "1.xml.gz",
            &gzip(simple().as_bytes()),
        )],
    );
    let m2 = message(
        "two",
        &[attachment(
            "application/zip",
            "2.zip",
            &zip(&[("2.xml", simple().as_bytes())]),
        )],
    );
    let mut mbox = b"From dmarc@example.net Thu Jan  1 00:00:00 2026\n".to_vec();
    mbox.extend_from_slice(&m1);
    mbox.extend_from_slice(b"\nFrom dmarc@example.net Thu Jan  1 00:00:01 2026\n");
    mbox.extend_from_slice(&m2);
    let parsed = parse_input(&mbox, &common::options());
    assert_eq!(parsed.len(), 2, "{parsed:?}");
    assert!(
        parsed[0]
            .part
            .as_deref()
            .unwrap()
            .starts_with("message 1 > ")
    );
    assert!(
        parsed[1]
            .part
            .as_deref()
            .unwrap()
            .starts_with("message 2 > ")
    );
    assert!(parsed.iter().all(|p| p.result.is_ok()));
}

#[test]
fn unknown_bytes_and_json() {
    assert_eq!(
        rejected(b"\x00\x01\x02\x03binary").kind,
        ErrorKind::UnknownFormat
    );
    assert_eq!(rejected(b"{\"a\": 1}").kind, ErrorKind::UnknownFormat);
    assert_eq!(rejected(b"").kind, ErrorKind::UnknownFormat);
}

// ----- malformed XML ----------------------------------------------------------------------

#[test]
fn bom_and_leading_newline() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(simple().as_bytes());
    let with_bom = one(&bytes);
    let with_newline = one(format!("\r\n\n  {}", simple()).as_bytes());
    assert_eq!(
        with_bom.xml_sha256,
        one(simple().as_bytes()).xml_sha256,
        "BOM not part of the hash"
    );
    assert_eq!(with_newline.records, with_bom.records);
}

#[test]
fn latin1_byte_in_a_utf8_document() {
    let xml = simple().replace(
        "<org_name>example.net</org_name>",
        "<org_name>Caf\u{0}\u{0}</org_name>",
    );
    let mut bytes = xml.into_bytes();
    let at = bytes.windows(2).position(|w| w == b"\0\0").unwrap();
    bytes.splice(at..at + 2, [0x91, 0xE9]);
    let r = one(&bytes);
    assert_eq!(r.report_metadata.org_name.as_deref(), Some("Caf\u{2018}é"));
    assert!(has(&r, Code::InvalidUtf8));
}

#[test]
fn bel_in_a_comment_element_and_in_an_xml_comment() {
    let rec = record("192.0.2.1", 1, "fail", "fail").replace(
        "</policy_evaluated>",
        "<reason><type>local_policy</type><comment>arc=pass\u{7}x</comment></reason></policy_evaluated>",
    );
    let r = one(report(None, POLICY, &format!("<!-- bell \u{7} -->{rec}")).as_bytes());
    let reason = &r.records[0].policy_evaluated.reason[0];
    assert_eq!(reason.comment.as_deref(), Some("arc=pass\u{FFFD}x"));
    assert!(has(&r, Code::ControlCharacter));
}

#[test]
fn not_well_formed_xml_is_rejected_with_the_position() {
    let cases = [
        simple().replace("<email>dmarc@example.net</email>", "<email><a@b></email>"),
        simple().replace(
            "<report_id>r-1</report_id>",
            "<report_id>20250101/report_id>",
        ),
        simple().replace(
            "<policy_published>",
            "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"><policy_published>",
        ),
    ];
    for xml in cases {
        let e = rejected(xml.as_bytes());
        assert_eq!(e.kind, ErrorKind::MalformedXml, "{e}");
        assert!(e.message.contains("at byte"), "{e}");
    }
}

#[test]
fn truncated_document() {
    let xml = simple();
    let e = rejected(&xml.as_bytes()[..xml.len() - 30]);
    assert_eq!(e.kind, ErrorKind::MalformedXml, "{e}");
}

#[test]
fn gzipped_unused_is_not_a_report() {
    let e = rejected(&gzip(b"unused"));
    assert_eq!(e.kind, ErrorKind::NotAggregateReport);
    assert!(e.message.contains("unused"), "{e}");
}

#[test]
fn other_root_elements_are_not_reports() {
    assert_eq!(
        rejected(b"<html><body>hi</body></html>").kind,
        ErrorKind::NotAggregateReport
    );
}

// ----- values -----------------------------------------------------------------------------

#[test]
fn capitalised_and_padded_values() {
    let rec = record("192.0.2.1", 1, "Pass", " None ").replace(
        "<disposition>none</disposition>",
        "<disposition> quarantine</disposition>",
    );
    let r = one(report(None, "<domain>example.com</domain><p>Reject</p>", &rec).as_bytes());
    let pe = &r.records[0].policy_evaluated;
    assert_eq!(pe.dkim, Some(DmarcResult::Pass));
    assert_eq!(pe.disposition, Some(Disposition::Quarantine));
    assert_eq!(
        pe.spf,
        Some(DmarcResult::Other("None".into())),
        "none is not a DMARC verdict"
    );
    assert_eq!(r.policy_published.p, Some(Disposition::Reject));
    assert!(has(&r, Code::ValueNormalized));
    assert!(has(&r, Code::UnknownValue));
}

#[test]
fn hardfail_and_softfail_disposition() {
    let rec = record("192.0.2.1", 1, "fail", "hardfail").replace(
        "<disposition>none</disposition>",
        "<disposition>softfail</disposition>",
    );
    let r = one(report(None, POLICY, &rec).as_bytes());
    let rec = &r.records[0];
    assert_eq!(rec.auth_results.spf[0].result, Some(SpfResult::Fail));
    assert_eq!(rec.policy_evaluated.spf, Some(DmarcResult::Fail));
    assert_eq!(
        rec.policy_evaluated.disposition,
        Some(Disposition::Other("softfail".into()))
    );
    assert!(has(&r, Code::ValueAlias));
    let json = serde_json::to_value(rec).unwrap();
    assert_eq!(
        json["policy_evaluated"]["disposition"], "softfail",
        "unknown values serialise as sent"
    );
}

#[test]
fn empty_type_and_bare_text_reason() {
    let with = |reason: &str| {
        let rec = record("192.0.2.1", 1, "fail", "fail").replace(
            "</policy_evaluated>",
            &format!("{reason}</policy_evaluated>"),
        );
        one(report(None, POLICY, &rec).as_bytes())
    };
    let r = with("<reason><type/><comment></comment></reason>");
    assert_eq!(
        r.records[0].policy_evaluated.reason[0],
        PolicyOverrideReason::default()
    );
    assert!(has(&r, Code::EmptyElement));
    let r = with("<reason>sampled_out</reason>");
    assert_eq!(
        r.records[0].policy_evaluated.reason[0].kind,
        Some(OverrideType::SampledOut)
    );
    let r = with("<reason><type>policy_test_mode</type></reason>");
    assert_eq!(r.dialect, Dialect::Rfc9990);
}

#[test]
fn identities_instead_of_identifiers() {
    let rec = record("192.0.2.1", 1, "pass", "pass").replace("identifiers>", "identities>");
    let r = one(report(None, POLICY, &rec).as_bytes());
    assert_eq!(
        r.records[0].identifiers.header_from.as_deref(),
        Some("example.com")
    );
    assert!(has(&r, Code::ElementAlias));
}

#[test]
fn two_policy_published_keep_the_first() {
    let xml = report(None, POLICY, &record("192.0.2.1", 1, "pass", "pass"))
        .replace("</policy_published>", "</policy_published><policy_published><domain>other.example</domain><p>reject</p></policy_published>");
    let r = one(xml.as_bytes());
    assert_eq!(r.policy_published.domain, "example.com");
    assert!(has(&r, Code::DuplicateElement));
}

#[test]
fn row_without_source_ip_is_kept_without_an_address() {
    let records = record("", 4, "fail", "fail").replace("<source_ip></source_ip>", "")
        + &record("192.0.2.1", 1, "pass", "pass");
    let r = one(report(None, POLICY, &records).as_bytes());
    assert_eq!(r.records.len(), 2);
    assert_eq!(r.records[0].source_ip, None);
    assert_eq!(r.message_count(), 5, "no message is lost");
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.code == Code::InvalidSourceIp)
        .unwrap();
    assert_eq!((d.severity, d.record), (Severity::Error, Some(0)));
}

#[test]
fn bracketed_and_zoned_addresses() {
    let records = record("[2001:db8::1]", 1, "pass", "pass")
        + &record("fe80::1%eth0", 1, "pass", "pass")
        + &record("not-an-ip", 1, "pass", "pass");
    let r = one(report(None, POLICY, &records).as_bytes());
    assert_eq!(r.records[0].source_ip, Some("2001:db8::1".parse().unwrap()));
    assert_eq!(r.records[1].source_ip, Some("fe80::1".parse().unwrap()));
    assert_eq!(r.records[2].source_ip, None);
}

#[test]
fn unreadable_count_drops_only_that_row() {
    let records = record("192.0.2.1", 1, "pass", "pass")
        .replace("<count>1</count>", "<count>many</count>")
        + &record("192.0.2.2", 3, "pass", "pass");
    let r = one(report(None, POLICY, &records).as_bytes());
    assert_eq!(r.records.len(), 1);
    assert!(has(&r, Code::RowDropped));
    let repaired =
        record("192.0.2.1", 1, "pass", "pass").replace("<count>1</count>", "<count>1,000</count>");
    assert_eq!(
        one(report(None, POLICY, &repaired).as_bytes()).message_count(),
        1000
    );
    // More messages than 2^32 - 1 from one address in one period is not believable.
    let absurd = record("192.0.2.1", 4_294_967_296, "pass", "pass")
        + &record("192.0.2.2", 4_294_967_295, "pass", "pass");
    let r = one(report(None, POLICY, &absurd).as_bytes());
    assert_eq!(r.message_count(), 4_294_967_295);
    assert!(has(&r, Code::RowDropped));
}

#[test]
fn spf_helo_without_domain() {
    let rec = record("192.0.2.1", 1, "pass", "pass").replace(
        "</auth_results>",
        "<spf><scope>helo</scope><result>none</result></spf></auth_results>",
    );
    let r = one(report(None, POLICY, &rec).as_bytes());
    let helo = &r.records[0].auth_results.spf[1];
    assert_eq!(
        (helo.domain.as_deref(), helo.scope.clone()),
        (None, Some(SpfScope::Helo))
    );
    assert!(has(&r, Code::MissingElement));
}

#[test]
fn long_report_ids_stay_text_and_identity_normalises() {
    for id in [
        "97488590493706875417386272001",
        "18446744073709551616",
        " <abc@example.net> ",
    ] {
        let escaped = id.replace('<', "&lt;").replace('>', "&gt;");
        let meta = format!(
            "<org_name>Example</org_name><email>Dmarc@Example.NET</email><report_id>{escaped}</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range>"
        );
        let r =
            one(report(Some(&meta), POLICY, &record("192.0.2.1", 1, "pass", "pass")).as_bytes());
        assert_eq!(r.report_metadata.report_id, id.trim());
        assert_eq!(r.identity().report_id, normalize_report_id(id));
        assert_eq!(r.identity().reporter, "example.net");
    }
}

#[test]
fn date_range_anomalies() {
    let meta = |begin: &str, end: &str| {
        format!(
            "<org_name>x</org_name><report_id>1</report_id><date_range><begin>{begin}</begin><end>{end}</end></date_range>"
        )
    };
    let parse_range = |b: &str, e: &str| {
        one(report(
            Some(&meta(b, e)),
            POLICY,
            &record("192.0.2.1", 21, "pass", "pass"),
        )
        .as_bytes())
    };
    let equal = parse_range("1538204542", "1538204542");
    assert!(has(&equal, Code::DateRangeAnomaly));
    let three_weeks = parse_range("1700006400", "1701820800");
    assert!(has(&three_weeks, Code::DateRangeAnomaly));
    let days = rollup::timeline(std::slice::from_ref(&three_weeks), &Filter::default());
    assert_eq!(days.len(), 21);
    assert!(
        days.iter().all(|d| d.tally.messages == 1),
        "21 messages over 21 days"
    );
    let ms = parse_range("1700000000000", "1700086399000.5");
    assert_eq!(
        ms.report_metadata.date_range,
        DateRange {
            begin: 1_700_000_000,
            end: 1_700_086_399
        }
    );
    assert!(has(&ms, Code::TimestampRepaired));
    assert_eq!(
        rejected(
            report(
                Some(&meta("soon", "1")),
                POLICY,
                &record("192.0.2.1", 1, "pass", "pass")
            )
            .as_bytes()
        )
        .kind,
        ErrorKind::InvalidDateRange
    );
}

/// `tests/data/regressions/`: reports whose periods broke the timeline before periods were
/// checked against the time of ingestion (see the README there).
#[test]
fn future_periods_from_the_regression_files_are_rejected() {
    let file = |name: &str| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/regressions")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let normal = one(&file("normal.xml"));
    assert_eq!(normal.report_metadata.date_range.begin, 1_700_000_000);
    for (name, why) in [
        ("huge9e18.xml", "9000000000000000000"),
        ("min_a.xml", "2147483648"),
        ("min_b.xml", "999999999990223"),
    ] {
        let error = rejected(&file(name));
        assert_eq!(error.kind, ErrorKind::InvalidDateRange, "{name}: {error}");
        assert!(error.message.contains(why), "{name}: {error}");
        assert!(error.message.contains("in the future"), "{name}: {error}");
    }
    // Year 5138 in seconds is 1973 in milliseconds: neither is believed.
    let year_5138 = simple().replace(
        "<begin>1700000000</begin><end>1700086399</end>",
        "<begin>99999000000</begin><end>99999086400</end>",
    );
    assert_eq!(
        rejected(year_5138.as_bytes()).kind,
        ErrorKind::InvalidDateRange
    );
    // The clock is an input: the same report is accepted by a parse that happens later.
    let later = ParseOptions {
        now: 99_999_086_400,
        ..options()
    };
    assert!(parse_input(year_5138.as_bytes(), &later)[0].result.is_ok());
}

#[test]
fn required_parts_missing() {
    let rec = record("192.0.2.1", 1, "pass", "pass");
    let no_id = "<org_name>x</org_name><date_range><begin>1</begin><end>2</end></date_range>";
    assert_eq!(
        rejected(report(Some(no_id), POLICY, &rec).as_bytes()).kind,
        ErrorKind::MissingElement
    );
    let no_reporter = "<report_id>1</report_id><date_range><begin>1700000000</begin><end>1700000001</end></date_range>";
    assert_eq!(
        rejected(report(Some(no_reporter), POLICY, &rec).as_bytes()).kind,
        ErrorKind::MissingElement
    );
    assert_eq!(
        rejected(report(None, "<p>none</p>", &rec).as_bytes()).kind,
        ErrorKind::MissingElement
    );
    // No record at all: kept with a warning, refused in strict mode.
    let empty = report(None, POLICY, "");
    assert!(has(&one(empty.as_bytes()), Code::NoRecords));
    let strict = ParseOptions {
        strict: true,
        ..common::options()
    };
    assert_eq!(
        parse_xml(empty.as_bytes(), &strict).unwrap_err().kind,
        ErrorKind::NoRecords
    );
}

#[test]
fn unknown_and_extension_elements_never_cost_records() {
    let rec = record("192.0.2.1", 1, "pass", "pass");
    let xml = report(
        None,
        &format!("{POLICY}<rf>afrf</rf><ri>86400</ri>"),
        &format!(
            "<extension><x:a xmlns:x=\"urn:x\"><x:b><x:c/></x:b></x:a></extension>{rec}<unknown><deep><deeper/></deep></unknown>{rec}"
        ),
    );
    let r = one(xml.as_bytes());
    assert_eq!(r.records.len(), 2);
    assert!(has(&r, Code::UnknownElement));
    assert_eq!(r.extensions.len(), 2);
}

#[test]
fn strict_mode_promotes_warnings() {
    let rec = record("192.0.2.1", 1, "pass", "hardfail");
    let xml = report(None, POLICY, &rec);
    let strict = ParseOptions {
        strict: true,
        ..common::options()
    };
    let e = parse_xml(xml.as_bytes(), &strict).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Strict);
    assert!(e.message.contains("hardfail"), "{e}");
    // Info-level notes (an omitted SPF scope) are accepted in strict mode.
    let clean = report(
        None,
        POLICY,
        &record("192.0.2.1", 1, "pass", "pass").replace("<scope>mfrom</scope>", ""),
    );
    assert!(parse_xml(clean.as_bytes(), &strict).is_ok());
}

#[test]
fn json_uses_the_rfc_element_names() {
    let r = one(simple().as_bytes());
    let v = serde_json::to_value(&r).unwrap();
    for (path, want) in [
        (
            "/report_metadata/org_name",
            serde_json::json!("example.net"),
        ),
        ("/report_metadata/report_id", serde_json::json!("r-1")),
        (
            "/report_metadata/date_range/begin",
            serde_json::json!(1_700_000_000),
        ),
        ("/policy_published/domain", serde_json::json!("example.com")),
        ("/records/0/source_ip", serde_json::json!("192.0.2.1")),
        ("/records/0/count", serde_json::json!(2)),
        (
            "/records/0/policy_evaluated/disposition",
            serde_json::json!("none"),
        ),
        (
            "/records/0/policy_evaluated/dkim",
            serde_json::json!("pass"),
        ),
        (
            "/records/0/identifiers/header_from",
            serde_json::json!("example.com"),
        ),
        (
            "/records/0/auth_results/spf/0/scope",
            serde_json::json!("mfrom"),
        ),
        ("/dialect", serde_json::json!("draft")),
    ] {
        assert_eq!(v.pointer(path), Some(&want), "{path} in {v}");
    }
    let back: Report = serde_json::from_value(v).unwrap();
    assert_eq!(back.records, r.records);
}

// ----- attacks ----------------------------------------------------------------------------

#[test]
fn billion_laughs_is_refused() {
    let mut xml =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        xml.push_str(&format!(
            " <!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    xml.push_str(
        "]>\n<feedback><report_metadata><org_name>&lol9;</org_name></report_metadata></feedback>",
    );
    let e = rejected(xml.as_bytes());
    assert_eq!(e.kind, ErrorKind::DoctypeForbidden);
}

#[test]
fn external_entity_is_refused() {
    let xml = "<?xml version=\"1.0\"?><!DOCTYPE feedback [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><feedback><report_metadata><org_name>&xxe;</org_name></report_metadata></feedback>";
    assert_eq!(rejected(xml.as_bytes()).kind, ErrorKind::DoctypeForbidden);
    // Without a DOCTYPE an undeclared entity stays literal text, never resolved.
    let r = one(simple()
        .replace("<org_name>example.net", "<org_name>&xxe;example.net")
        .as_bytes());
    assert_eq!(
        r.report_metadata.org_name.as_deref(),
        Some("&xxe;example.net")
    );
    assert!(has(&r, Code::UnknownEntity));
}

#[test]
fn deep_nesting_is_refused() {
    let deep = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
    let xml = report(
        None,
        POLICY,
        &format!("{deep}{}", record("192.0.2.1", 1, "pass", "pass")),
    );
    let e = rejected(xml.as_bytes());
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
    assert!(e.message.contains("depth"), "{e}");
}

fn attack(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/attacks")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn gigabyte_gzip_bomb_is_refused_early() {
    let bomb = attack("zeros-1gib.xml.gz");
    assert!(
        bomb.len() < 2 << 20,
        "1 GiB of zeros in about 1 MB: {}",
        bomb.len()
    );
    let e = rejected(&bomb);
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
    assert!(e.message.contains("ratio"), "{e}");
    // Without the ratio alarm the size cap still holds (a smaller cap keeps the test fast).
    let limits = Limits {
        max_ratio: u64::MAX,
        max_xml_bytes: 16 << 20,
        ..Limits::default()
    };
    let e = parse_input(
        &bomb,
        &ParseOptions {
            limits,
            ..options()
        },
    )
    .remove(0)
    .result
    .unwrap_err();
    assert!(e.message.contains("decompressed size"), "{e}");
}

#[test]
fn zip_bomb_is_refused() {
    let e = rejected(&attack("zeros-1gib.zip"));
    assert_eq!(e.kind, ErrorKind::LimitExceeded, "{e}");
    assert!(e.message.contains("ratio"), "{e}");
}

#[test]
fn huge_attribute_is_refused() {
    let attr = "x".repeat(5 << 20);
    let xml = simple().replace(
        "<report_metadata>",
        &format!("<report_metadata a=\"{attr}\">"),
    );
    let e = rejected(xml.as_bytes());
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
    assert!(e.message.contains("attribute"), "{e}");
}

#[test]
fn oversized_text_and_counts_are_refused() {
    let long = "a".repeat(2000);
    let xml = simple().replace("<header_from>example.com", &format!("<header_from>{long}"));
    assert_eq!(rejected(xml.as_bytes()).kind, ErrorKind::LimitExceeded);
    let limits = Limits {
        max_records: 2,
        ..Limits::default()
    };
    let three = report(
        None,
        POLICY,
        &record("192.0.2.1", 1, "pass", "pass").repeat(3),
    );
    let e = parse_xml(
        three.as_bytes(),
        &ParseOptions {
            limits,
            ..options()
        },
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
}

#[test]
fn mime_depth_is_bounded() {
    let mut mail = message(
        "inner",
        &[attachment(
            "application/gzip",
            "r.xml.gz",
            &gzip(simple().as_bytes()),
        )],
    );
    for _ in 0..8 {
        let part = format!(
            "Content-Type: message/rfc822\r\n\r\n{}",
            String::from_utf8(mail).unwrap()
        );
        mail = message("fwd", &[part]);
    }
    let results = parse(&mail);
    assert!(results.iter().all(Result::is_err), "{results:?}");
}

/// `parse_input_into` hands records over as they are read, then each payload; a payload
/// rejected after its records were read (here: a future period, checked at the end) voids
/// them. Collected, the stream is exactly what `parse_input` returns.
#[test]
fn records_stream_to_a_sink_payload_by_payload() {
    #[derive(Default)]
    struct Log {
        pending: usize,
        /// (records given before the payload, accepted)
        payloads: Vec<(usize, bool)>,
    }
    impl dmarc_core::ReportSink for Log {
        fn record(&mut self, _: dmarc_core::Record) {
            self.pending += 1;
        }
        fn payload(&mut self, parsed: dmarc_core::Parsed) {
            let records = std::mem::take(&mut self.pending);
            if let Ok(report) = &parsed.result {
                assert!(report.records.is_empty(), "records were streamed");
            }
            self.payloads.push((records, parsed.result.is_ok()));
        }
    }
    let three = record("192.0.2.1", 1, "pass", "pass").repeat(3);
    let good = report(None, POLICY, &three);
    let future = good.replace(
        "<begin>1700000000</begin><end>1700086399</end>",
        "<begin>2000000000</begin><end>2000086399</end>",
    );
    let mail = message(
        "reports",
        &[
            attachment("application/gzip", "a.xml.gz", &gzip(good.as_bytes())),
            attachment("application/gzip", "b.xml.gz", &gzip(future.as_bytes())),
            attachment("text/xml", "c.xml", simple().as_bytes()),
        ],
    );
    let mut log = Log::default();
    dmarc_core::parse_input_into(&mail, &options(), &mut log);
    assert_eq!(log.payloads, [(3, true), (3, false), (1, true)]);
    let collected = parse_input(&mail, &options());
    assert_eq!(collected.len(), 3);
    let counts: Vec<usize> = collected
        .iter()
        .map(|p| p.result.as_ref().map_or(0, |r| r.records.len()))
        .collect();
    assert_eq!(counts, [3, 0, 1]);
}

/// A report's messages are spread over its days per outcome class, not per record: three
/// one-message records over two whole days give one day two messages and the other one
/// (per record, each message went to the first day). Spreading per class is what makes a
/// long period cost its classes times its days instead of its records times its days.
#[test]
fn long_periods_are_spread_per_outcome_class() {
    let two_days = "<org_name>x</org_name><report_id>2d</report_id><date_range>\
        <begin>1699920000</begin><end>1700092800</end></date_range>";
    let records = record("192.0.2.1", 1, "pass", "fail").repeat(3);
    let report = one(report(Some(two_days), POLICY, &records).as_bytes());
    let days = rollup::timeline(std::slice::from_ref(&report), &Filter::default());
    let messages: Vec<(String, u64)> = days
        .iter()
        .map(|d| (d.day.clone(), d.tally.messages))
        .collect();
    assert_eq!(
        messages,
        [("2023-11-14".to_owned(), 2), ("2023-11-15".to_owned(), 1)]
    );
}
