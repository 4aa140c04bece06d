//! Property: whatever report is accepted and stored, and whatever is stored already (here
//! a report dated in the year 285,000,000,000, as an older version let in), a timeline
//! answer is bounded by the period asked for, never by the reports' dates. On SQLite; the
//! contract suite checks that PostgreSQL answers the same.

use dmarc_core::rollup::MAX_DENSE_DAYS;
use dmarc_core::{Filter, ParseOptions};
use dmarc_store::{Store, connect, prepare, testing};
use proptest::prelude::*;

/// 2026-11-30: the time of ingestion.
const NOW: i64 = 1_796_083_200;
const DAY: i64 = 86_400;

fn report(id: u32, begin: &str, end: &str, counts: &[u32]) -> String {
    let records: String = counts
        .iter()
        .enumerate()
        .map(|(i, count)| {
            format!(
                "<record><row><source_ip>192.0.2.{}</source_ip><count>{count}</count>\
                 <policy_evaluated><disposition>none</disposition><dkim>{}</dkim>\
                 <spf>fail</spf></policy_evaluated></row><identifiers>\
                 <header_from>example.com</header_from></identifiers></record>",
                i % 250,
                if i % 2 == 0 { "pass" } else { "fail" }
            )
        })
        .collect();
    format!(
        "<feedback><report_metadata><org_name>o</org_name><email>d@example.net</email>\
         <report_id>p{id}</report_id><date_range><begin>{begin}</begin><end>{end}</end>\
         </date_range></report_metadata><policy_published><domain>example.com</domain>\
         <p>none</p></policy_published>{records}</feedback>"
    )
}

/// Dates as reporters write them, right and wrong.
fn timestamp() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..NOW + 10 * DAY).prop_map(|v| v.to_string()),
        (1_500_000_000_000i64..1_900_000_000_000).prop_map(|v| v.to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<u64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| v.to_string()),
        (0i64..NOW, 0u32..1000).prop_map(|(s, f)| format!("{s}.{f:03}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn a_timeline_is_bounded_by_the_period_asked_for(
        reports in prop::collection::vec(
            (timestamp(), timestamp(), prop::collection::vec(0u32..5000, 1..4)),
            1..4,
        ),
        from_day in 0i64..25_000,
        days in 1i64..800,
    ) {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let db = testing::sqlite();
            let store: Store = connect(&db.url).await.expect("connect");
            // Stored by an older version: a period it should have refused.
            let old = report(0, "9000000000000000000", "9000000000086399999", &[7]);
            let then = prepare("old.xml", old.as_bytes(), &ParseOptions::at(i64::MAX));
            store.ingest(&[then]).await.expect("ingest old");
            for (i, (begin, end, counts)) in reports.iter().enumerate() {
                let xml = report(i as u32 + 1, begin, end, counts);
                let prepared = prepare("p.xml", xml.as_bytes(), &ParseOptions::at(NOW));
                if let Ok(rows) = &prepared.parts[0].result {
                    let range = rows.report.report_metadata.date_range;
                    prop_assert!(range.begin.max(range.end) <= NOW + 3 * DAY, "{range:?}");
                }
                store.ingest(&[prepared]).await.expect("ingest");
            }
            let period = Filter {
                from: Some(from_day * DAY),
                to: Some((from_day + days) * DAY),
                ..Filter::default()
            };
            let timeline = store.timeline(&period).await.expect("timeline");
            prop_assert!(timeline.len() as i64 <= days, "{} days for {days}", timeline.len());
            let trend = store.failure_trend(&period, 7).await.expect("trend");
            prop_assert_eq!(trend.len(), timeline.len());
            // Without a period: every day between the first and the last with messages
            // when they are close, else only the days with messages.
            let all = store.timeline(&Filter::default()).await.expect("all");
            let busy = all.iter().filter(|d| d.tally.messages > 0).count();
            prop_assert!(all.len() as i64 <= MAX_DENSE_DAYS || all.len() == busy);
            Ok(())
        })?;
    }
}
