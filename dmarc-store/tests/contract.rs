//! The store contract: every test runs against SQLite and PostgreSQL (a throwaway cluster,
//! or `DMARC_TEST_POSTGRES_URL`; skipped with a message when neither is available, a
//! failure when `DMARC_TEST_REQUIRE_SERVICES=1`).
//!
//! The suite stays whole in one file: every file under `tests/` is a test binary of its
//! own, linked against the whole crate graph, so one suite per subject keeps builds short.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use dmarc_benches::{Container, Generator, Reporter};
use dmarc_core::rollup;
use dmarc_core::{Disposition, Filter, ParseOptions, Report, Verdict};
use dmarc_store::testing;
use dmarc_store::{OutcomeStatus, Page, Prepared, ReportRows, Store, connect, prepare};

/// Runs `body` against each available backend, each on a fresh database.
macro_rules! contract {
    ($name:ident, |$store:ident| $body:block) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for db in testing::databases().await {
                let $store: Store = connect(&db.url).await.expect("connect");
                let backend = $store.backend();
                eprintln!("{} on {backend:?}", stringify!($name));
                $body
            }
        }
    };
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dmarc-core/tests/data/corpus")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read corpus") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn prepare_files(files: &[PathBuf]) -> Vec<Prepared> {
    files
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).expect("read");
            prepare(
                path.display().to_string(),
                &bytes,
                &ParseOptions::at(dmarc_store::unix_now()),
            )
        })
        .collect()
}

fn prepare_bytes(name: &str, bytes: &[u8]) -> Prepared {
    prepare(name, bytes, &ParseOptions::at(dmarc_store::unix_now()))
}

fn count(outcomes: &[Vec<dmarc_store::Outcome>], status: OutcomeStatus) -> usize {
    outcomes
        .iter()
        .flatten()
        .filter(|o| o.outcome == status)
        .count()
}

fn reports_of(batch: &[Prepared]) -> Vec<Report> {
    batch
        .iter()
        .flat_map(|p| &p.parts)
        .filter_map(|part| part.result.as_ref().ok())
        .map(ReportRows::to_report)
        .collect()
}

contract!(
    corpus_is_stored_once_and_reingesting_changes_nothing,
    |store| {
        let files = files_under(&corpus_dir());
        let batch = prepare_files(&files);
        let parsed = reports_of(&batch);
        let expected = testing::distinct(&parsed);
        let first = store.ingest(&batch).await.expect("ingest");
        assert_eq!(count(&first, OutcomeStatus::Accepted), expected.len());
        assert_eq!(
            count(&first, OutcomeStatus::Accepted) + count(&first, OutcomeStatus::Duplicate),
            parsed.len()
        );
        let totals = store.totals().await.expect("totals");
        assert_eq!(totals.reports as usize, expected.len());
        let messages: u64 = expected.iter().map(Report::message_count).sum();
        let records: usize = expected.iter().map(|r| r.records.len()).sum();
        assert_eq!(
            (totals.messages, totals.records as usize),
            (messages, records)
        );
        let contents: HashSet<&str> = batch.iter().map(|p| p.sha256.as_str()).collect();
        assert_eq!(
            totals.payloads as usize,
            contents.len(),
            "every input kept, rejected ones too"
        );
        // Rejected inputs (TLS reports, failure reports, invalid files) name their cause.
        for outcome in first.iter().flatten() {
            if outcome.outcome == OutcomeStatus::Rejected {
                let error = outcome.error.as_ref().expect("a rejection names its cause");
                assert!(!error.message.is_empty(), "{}", outcome.input);
            }
        }

        let second = store.ingest(&batch).await.expect("ingest again");
        assert_eq!(count(&second, OutcomeStatus::Accepted), 0);
        assert_eq!(count(&second, OutcomeStatus::Duplicate), parsed.len());
        assert_eq!(store.totals().await.expect("totals"), totals);
        // A duplicate names the stored report.
        for (a, b) in first.iter().flatten().zip(second.iter().flatten()) {
            if let (Some(stored), Some(again)) = (&a.report, &b.report)
                && a.outcome == OutcomeStatus::Accepted
            {
                assert_eq!(stored.id, again.id);
            }
        }
    }
);

contract!(one_report_in_four_containers_is_one_report, |store| {
    let report = Generator::new(7).report(Reporter::Google, "example.com", 1_700_000_000, 25);
    let batch: Vec<Prepared> = [
        Container::Xml,
        Container::Gzip,
        Container::Zip,
        Container::Eml,
    ]
    .into_iter()
    .map(|c| prepare_bytes(&report.file_name(c), &report.container(c)))
    .collect();
    let outcomes = store.ingest(&batch).await.expect("ingest");
    assert_eq!(count(&outcomes, OutcomeStatus::Accepted), 1);
    assert_eq!(count(&outcomes, OutcomeStatus::Duplicate), 3);
    let ids: HashSet<i64> = outcomes
        .iter()
        .flatten()
        .map(|o| o.report.as_ref().expect("report").id)
        .collect();
    assert_eq!(ids.len(), 1);
    let totals = store.totals().await.expect("totals");
    assert_eq!((totals.reports, totals.payloads), (1, 4));
    assert_eq!(totals.messages, report.messages);
});

contract!(same_identity_other_period_is_kept_and_flagged, |store| {
    let mut generator = Generator::new(3);
    let a = generator.report(Reporter::Microsoft, "example.com", 1_700_000_000, 3);
    let shifted = a
        .xml
        .replace("<begin>1700000000</begin>", "<begin>1699990000</begin>");
    assert_ne!(shifted, a.xml);
    let first = store
        .ingest(&[prepare_bytes("a.xml", a.xml.as_bytes())])
        .await
        .expect("ingest");
    let second = store
        .ingest(&[prepare_bytes("b.xml", shifted.as_bytes())])
        .await
        .expect("ingest");
    assert_eq!(second[0][0].outcome, OutcomeStatus::Accepted);
    let first = first[0][0].report.as_ref().expect("first").id;
    assert_eq!(second[0][0].conflict_with, Some(first));
    assert_eq!(store.totals().await.expect("totals").conflicts, 1);
});

contract!(rejected_inputs_are_kept_and_logged, |store| {
    let outcomes = store
        .ingest(&[prepare_bytes("junk.bin", b"\x00\x01 not a report")])
        .await
        .expect("ingest");
    let outcome = &outcomes[0][0];
    assert_eq!(outcome.outcome, OutcomeStatus::Rejected);
    assert_eq!(
        outcome.error.as_ref().map(|e| e.kind),
        Some(dmarc_core::ErrorKind::UnknownFormat)
    );
    assert_eq!(store.totals().await.expect("totals").payloads, 1);
    let log = store.outcomes(Page::first(10)).await.expect("outcomes");
    assert_eq!(log.total, 1);
    assert_eq!(log.items[0].input, "junk.bin");
    assert_eq!(log.items[0].error, outcome.error);
});

contract!(stored_reports_read_back_as_parsed, |store| {
    let files = files_under(&corpus_dir().join("aggregate"));
    let batch = prepare_files(&files);
    let outcomes = store.ingest(&batch).await.expect("ingest");
    for (input, outcomes) in batch.iter().zip(&outcomes) {
        for (part, outcome) in input.parts.iter().zip(outcomes) {
            let (Ok(rows), OutcomeStatus::Accepted) = (&part.result, outcome.outcome) else {
                continue;
            };
            let id = outcome.report.as_ref().expect("id").id;
            let all = Page::first(Page::MAX_LIMIT);
            let stored = store
                .report(id, all)
                .await
                .expect("report")
                .expect("exists");
            assert_eq!(stored.report, rows.to_report(), "{}", input.name);
            assert_eq!(stored.summary.records, rows.record_count());
            // Records come a page at a time.
            let page = Page {
                limit: 2,
                offset: 1,
            };
            let paged = store.report(id, page).await.expect("page").expect("exists");
            let want: Vec<_> = stored
                .report
                .records
                .iter()
                .skip(1)
                .take(2)
                .cloned()
                .collect();
            assert_eq!((paged.report.records, paged.records_page), (want, page));
            assert!(stored.source.starts_with(&input.name));
        }
    }
    assert!(
        store
            .report(i64::MAX, Page::default())
            .await
            .expect("lookup")
            .is_none()
    );
});

/// Generated reports over several domains, reporters and days, some periods spanning
/// midnight, so rollups have something to group.
fn generated_xml() -> Vec<String> {
    let mut generator = Generator::new(11);
    let mut xml: Vec<String> = generator
        .batch(60, 4, 1_700_006_400, 3_000)
        .into_iter()
        .map(|g| g.xml)
        .collect();
    for (i, reporter) in [Reporter::Microsoft, Reporter::Mimecast, Reporter::Gmx]
        .into_iter()
        .enumerate()
    {
        // Periods starting at noon spread over two days.
        let begin = 1_700_049_600 + i as i64 * 86_400;
        xml.push(generator.report(reporter, "domain1.example", begin, 40).xml);
    }
    xml
}

fn parse_one(bytes: &[u8]) -> Report {
    let parsed = dmarc_core::parse_input(bytes, &ParseOptions::at(dmarc_store::unix_now()));
    parsed
        .into_iter()
        .next()
        .expect("one")
        .result
        .expect("report")
}

fn filters(reports: &[Report]) -> Vec<Filter> {
    let some_ip = reports[0].records[0].source_ip.expect("an address");
    let mid = reports[reports.len() / 2].report_metadata.date_range.begin;
    vec![
        Filter::default(),
        Filter {
            domains: vec!["DOMAIN1.example".into(), "domain2.example".into()],
            ..Filter::default()
        },
        Filter {
            from: Some(mid),
            ..Filter::default()
        },
        Filter {
            to: Some(mid),
            ..Filter::default()
        },
        Filter {
            from: Some(mid - 86_400),
            to: Some(mid + 86_400),
            ..Filter::default()
        },
        Filter {
            org: Some(" enterprise OUTLOOK ".into()),
            ..Filter::default()
        },
        Filter {
            dkim: Some(Verdict::Fail),
            ..Filter::default()
        },
        Filter {
            spf: Some(Verdict::Pass),
            dkim: Some(Verdict::Pass),
            ..Filter::default()
        },
        Filter {
            disposition: Some(Disposition::Reject),
            ..Filter::default()
        },
        Filter {
            disposition: Some(Disposition::Other("softfail".into())),
            ..Filter::default()
        },
        Filter {
            source_ip: Some(some_ip.to_string().parse().expect("ip")),
            ..Filter::default()
        },
        Filter {
            source_ip: Some("23.0.0.0/8".parse().expect("cidr")),
            ..Filter::default()
        },
        Filter {
            source_ip: Some("2a00:1450::/32".parse().expect("cidr")),
            dkim: Some(Verdict::Fail),
            ..Filter::default()
        },
        Filter {
            source_ip: Some("::/0".parse().expect("cidr")),
            domains: vec!["domain0.example".into()],
            ..Filter::default()
        },
        // Records grouped in SQL, within a period that starts and ends mid-day.
        Filter {
            source_ip: Some("::ffff:0:0/96".parse().expect("cidr")),
            from: Some(mid - 43_200),
            to: Some(mid + 129_600),
            ..Filter::default()
        },
    ]
}

contract!(rollups_equal_the_core_rollups, |store| {
    let xml = generated_xml();
    let reports: Vec<Report> = xml.iter().map(|x| parse_one(x.as_bytes())).collect();
    let batch: Vec<Prepared> = xml
        .iter()
        .enumerate()
        .map(|(i, x)| prepare_bytes(&format!("g{i}.xml"), x.as_bytes()))
        .collect();
    assert_eq!(
        reports_of(&batch),
        reports,
        "the same reports on both sides"
    );
    let outcomes = store.ingest(&batch).await.expect("ingest");
    assert_eq!(count(&outcomes, OutcomeStatus::Accepted), reports.len());
    for filter in filters(&reports) {
        let label = format!("{filter:?}");
        assert_eq!(
            store.summary(&filter).await.expect("summary"),
            rollup::summary(&reports, &filter),
            "{label}"
        );
        assert_eq!(
            store.by_domain(&filter).await.expect("by_domain"),
            rollup::by_domain(&reports, &filter),
            "{label}"
        );
        assert_eq!(
            store.by_organization(&filter).await.expect("orgs"),
            rollup::by_organization(&reports, &filter),
            "{label}"
        );
        let sources = store
            .by_source(&filter, Page::first(Page::MAX_LIMIT))
            .await
            .expect("sources");
        let expected = rollup::by_source(&reports, &filter);
        assert_eq!(sources.total as usize, expected.len(), "{label}");
        assert_eq!(sources.items, expected, "{label}");
        // Later pages, including one past the end, keep the order and the total.
        for offset in [1, expected.len() as u64, expected.len() as u64 + 5] {
            let page = store
                .by_source(&filter, Page { limit: 2, offset })
                .await
                .expect("sources page");
            assert_eq!(
                page.total as usize,
                expected.len(),
                "{label} offset {offset}"
            );
            let want: Vec<_> = expected
                .iter()
                .skip(offset as usize)
                .take(2)
                .cloned()
                .collect();
            assert_eq!(page.items, want, "{label} offset {offset}");
        }
        assert_eq!(
            store.disposition_breakdown(&filter).await.expect("disp"),
            rollup::disposition_breakdown(&reports, &filter),
            "{label}"
        );
        assert_eq!(
            store.alignment_breakdown(&filter).await.expect("align"),
            rollup::alignment_breakdown(&reports, &filter),
            "{label}"
        );
        assert_eq!(
            store.policy_compliance(&filter).await.expect("compliance"),
            rollup::policy_compliance(&reports, &filter),
            "{label}"
        );
        assert_eq!(
            store.timeline(&filter).await.expect("timeline"),
            rollup::timeline(&reports, &filter),
            "{label}"
        );
        assert_eq!(
            store.failure_trend(&filter, 7).await.expect("trend"),
            rollup::failure_trend(&reports, &filter, 7),
            "{label}"
        );
        assert_eq!(
            store
                .enforcement_impact(&filter)
                .await
                .expect("enforcement"),
            rollup::enforcement_impact(&reports, &filter),
            "{label}"
        );
        let activity = rollup::source_activity(&reports, &filter);
        assert_eq!(
            store.source_activity(&filter).await.expect("activity"),
            activity,
            "{label}"
        );
        // The activity of chosen addresses: every other one, and one never seen.
        let mut chosen: Vec<_> = activity.iter().step_by(2).map(|a| a.source_ip).collect();
        chosen.push("192.0.2.254".parse().expect("an address"));
        let mut of_chosen = store
            .activity_of(&filter, &chosen)
            .await
            .expect("activity of addresses");
        of_chosen.sort_by_key(|a| a.source_ip);
        let mut want: Vec<_> = activity.iter().step_by(2).cloned().collect();
        want.sort_by_key(|a| a.source_ip);
        assert_eq!(of_chosen, want, "{label}");
        // Sender identification's evidence of the same addresses, per policy domain.
        let evidence = store
            .sender_evidence(&filter, &chosen)
            .await
            .expect("sender evidence");
        let mut want = dmarc_core::senders::sender_evidence(&reports, &filter);
        want.retain(|(ip, _), _| chosen.contains(ip));
        assert_eq!(evidence, want, "{label}");
        // The report list holds exactly the reports with a selected record.
        let listed = store
            .reports(&filter, Page::first(Page::MAX_LIMIT))
            .await
            .expect("reports");
        let selected = reports
            .iter()
            .filter(|r| {
                filter.matches_report(r) && r.records.iter().any(|x| filter.matches_record(x))
            })
            .count();
        assert_eq!(
            (listed.total as usize, listed.items.len()),
            (selected, selected),
            "{label}"
        );
        // The export pages through exactly the selected records, in order.
        let mut exported = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .export_records(&filter, after, 97)
                .await
                .expect("export");
            let Some(last) = page.last() else { break };
            after = Some((last.report, last.ord));
            exported.extend(page);
        }
        let mut want: Vec<(String, u64, bool, bool)> = filter
            .select(&reports)
            .map(|(_, x)| {
                (
                    x.source_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                    x.count,
                    x.dkim_aligned_pass(),
                    x.spf_aligned_pass(),
                )
            })
            .collect();
        let mut got: Vec<(String, u64, bool, bool)> = exported
            .iter()
            .map(|x| {
                (
                    x.source_ip.clone().unwrap_or_default(),
                    x.count,
                    x.dkim_aligned,
                    x.spf_aligned,
                )
            })
            .collect();
        // Reports get ids in ingest order, not the generator's: compare as multisets.
        want.sort();
        got.sort();
        assert!(
            got == want,
            "{label}: {} exported, {} selected",
            got.len(),
            want.len()
        );
        assert!(
            exported
                .windows(2)
                .all(|w| (w[0].report, w[0].ord) < (w[1].report, w[1].ord)),
            "{label}: export order"
        );
    }
});

contract!(report_lists_page_in_a_stable_order, |store| {
    let mut generator = Generator::new(5);
    let batch: Vec<Prepared> = generator
        .batch(30, 3, 1_700_006_400, 300)
        .iter()
        .enumerate()
        .map(|(i, g)| prepare_bytes(&format!("r{i}.xml"), g.xml.as_bytes()))
        .collect();
    store.ingest(&batch).await.expect("ingest");
    let all = store
        .reports(&Filter::default(), Page::first(1000))
        .await
        .expect("all");
    assert_eq!(all.total, 30);
    let mut paged = Vec::new();
    for offset in (0..30).step_by(7) {
        let page = store
            .reports(&Filter::default(), Page { limit: 7, offset })
            .await
            .expect("page");
        assert_eq!(page.total, 30);
        paged.extend(page.items);
    }
    assert_eq!(paged, all.items);
    assert!(
        all.items
            .windows(2)
            .all(|w| (w[0].begin, w[0].id) > (w[1].begin, w[1].id))
    );
    let domains = store.domains().await.expect("domains");
    assert_eq!(domains.iter().map(|d| d.reports).sum::<u64>(), 30);
    assert!(domains.windows(2).all(|w| w[0].domain < w[1].domain));
});

contract!(
    reprocessing_parses_pending_and_rewrites_without_duplicates,
    |store| {
        let report = Generator::new(9).report(Reporter::Yahoo, "example.org", 1_700_000_000, 12);
        let gz = report.container(Container::Gzip);
        store
            .store_pending("pending.xml.gz", &gz)
            .await
            .expect("store");
        let totals = store.totals().await.expect("totals");
        assert_eq!((totals.payloads, totals.pending, totals.reports), (1, 1, 0));
        let first = store
            .reprocess(
                dmarc_store::PipelineOptions::new(ParseOptions::at(dmarc_store::unix_now())),
                true,
            )
            .await
            .expect("reprocess");
        assert_eq!((first.payloads, first.accepted), (1, 1));
        assert_eq!(store.totals().await.expect("totals").pending, 0);
        // Everything again: the same XML is rewritten in place, nothing is added.
        let again = store
            .reprocess(
                dmarc_store::PipelineOptions::new(ParseOptions::at(dmarc_store::unix_now())),
                false,
            )
            .await
            .expect("reprocess");
        assert_eq!((again.payloads, again.accepted, again.refreshed), (1, 0, 1));
        let totals = store.totals().await.expect("totals");
        assert_eq!((totals.reports, totals.records), (1, 12));
        assert_eq!(totals.messages, report.messages);
        // Ingesting the same bytes later finds the stored report.
        let outcomes = store
            .ingest(&[prepare_bytes("again.gz", &gz)])
            .await
            .expect("ingest");
        assert_eq!(outcomes[0][0].outcome, OutcomeStatus::Duplicate);
    }
);

// Ranks of source addresses over whole-day periods come from the source pre-aggregates
// (top of the ranking by the threshold walk, deep pages by grouping every address): the
// same pages and totals as the core, also after every report is rewritten in place.
contract!(top_sources_from_the_aggregates_equal_the_core, |store| {
    const DAY: i64 = 86_400;
    let first = 1_700_006_400; // day 19676, four days before a 32-day block begins
    let mut generator = Generator::new(23);
    let mut xml: Vec<String> = generator
        .batch(300, 3, first, 6_000)
        .into_iter()
        .map(|g| g.xml)
        .collect();
    // Periods across blocks and starting at noon.
    xml.push(
        generator
            .report(Reporter::Yahoo, "domain0.example", first, 200)
            .xml,
    );
    xml.push(
        generator
            .report(
                Reporter::Gmx,
                "domain1.example",
                first + 3 * DAY + DAY / 2,
                50,
            )
            .xml,
    );
    // A report from 1975 (a sample some reporters send): over 600 blocks to walk.
    xml.push(
        generator
            .report(Reporter::Mimecast, "domain2.example", 157_766_400, 30)
            .xml,
    );
    let reports: Vec<Report> = xml.iter().map(|x| parse_one(x.as_bytes())).collect();
    let batch: Vec<Prepared> = xml
        .iter()
        .enumerate()
        .map(|(i, x)| prepare_bytes(&format!("s{i}.xml"), x.as_bytes()))
        .collect();
    store.ingest(&batch).await.expect("ingest");
    let day = |n: i64| Some(first + n * DAY);
    let windows = [
        Filter::default(),
        Filter {
            from: day(3),
            to: day(20),
            ..Filter::default()
        },
        Filter {
            from: day(4),
            to: day(36),
            ..Filter::default()
        },
        Filter {
            from: day(10),
            ..Filter::default()
        },
        Filter {
            to: day(25),
            ..Filter::default()
        },
        Filter {
            domains: vec!["Domain1.example".into()],
            from: day(2),
            to: day(30),
            ..Filter::default()
        },
        Filter {
            domains: vec!["domain0.example".into(), "domain2.example".into()],
            ..Filter::default()
        },
    ];
    for round in ["ingested", "rewritten"] {
        for filter in &windows {
            let expected = rollup::by_source(&reports, filter);
            assert!(
                expected.len() > 100,
                "{filter:?}: {} addresses",
                expected.len()
            );
            for (limit, offset) in [(20, 0), (3, 0), (100, 100), (50, 2_500), (10, 1_000_000)] {
                let page = store
                    .by_source(filter, Page { limit, offset })
                    .await
                    .expect("sources");
                let want: Vec<_> = expected
                    .iter()
                    .skip(offset as usize)
                    .take(limit as usize)
                    .cloned()
                    .collect();
                let label = format!("{round} {filter:?} limit {limit} offset {offset}");
                assert_eq!(page.items, want, "{label}");
                assert_eq!(
                    (page.total as usize, page.total_capped),
                    (expected.len(), false),
                    "{label}"
                );
            }
        }
        let summary = store
            .reprocess(
                dmarc_store::PipelineOptions::new(ParseOptions::at(dmarc_store::unix_now())),
                false,
            )
            .await
            .expect("reprocess");
        assert_eq!(summary.refreshed as usize, reports.len());
    }
});

/// Every rollup of `store` equals the core's over `reports` for `filter` (sources: the
/// first page and a deep one).
async fn assert_rollups_equal(store: &Store, reports: &[Report], filter: &Filter, label: &str) {
    assert_eq!(
        store.summary(filter).await.expect("summary"),
        rollup::summary(reports, filter),
        "{label}"
    );
    assert_eq!(
        store.by_domain(filter).await.expect("domains"),
        rollup::by_domain(reports, filter),
        "{label}"
    );
    assert_eq!(
        store.by_organization(filter).await.expect("orgs"),
        rollup::by_organization(reports, filter),
        "{label}"
    );
    assert_eq!(
        store
            .disposition_breakdown(filter)
            .await
            .expect("disposition"),
        rollup::disposition_breakdown(reports, filter),
        "{label}"
    );
    assert_eq!(
        store.alignment_breakdown(filter).await.expect("alignment"),
        rollup::alignment_breakdown(reports, filter),
        "{label}"
    );
    assert_eq!(
        store.policy_compliance(filter).await.expect("compliance"),
        rollup::policy_compliance(reports, filter),
        "{label}"
    );
    assert_eq!(
        store.timeline(filter).await.expect("timeline"),
        rollup::timeline(reports, filter),
        "{label}"
    );
    let expected = rollup::by_source(reports, filter);
    for page in [
        Page::first(20),
        Page {
            limit: 50,
            offset: 2_100,
        },
    ] {
        let got = store.by_source(filter, page).await.expect("sources");
        let want: Vec<_> = expected
            .iter()
            .skip(page.offset as usize)
            .take(page.limit as usize)
            .cloned()
            .collect();
        assert_eq!(got.items, want, "{label} {page:?}");
        assert_eq!(got.total as usize, expected.len(), "{label} {page:?}");
    }
}

/// Generated reports over `days` days from `first` (UTC seconds), as reports and inputs.
fn history(seed: u64, first: i64, days: usize, records: usize) -> (Vec<Report>, Vec<Prepared>) {
    let xml: Vec<String> = Generator::new(seed)
        .batch(days * 9, 3, first, records)
        .into_iter()
        .map(|g| g.xml)
        .collect();
    let reports = xml.iter().map(|x| parse_one(x.as_bytes())).collect();
    let batch = xml
        .iter()
        .enumerate()
        .map(|(i, x)| prepare_bytes(&format!("h{seed}-{i}.xml"), x.as_bytes()))
        .collect();
    (reports, batch)
}

// A purge deletes the reports that ended before the cutoff with everything kept for them;
// every rollup then equals the core's over the reports that remain.
contract!(
    purged_data_leaves_rollups_equal_to_the_core_over_what_remains,
    |store| {
        const DAY: i64 = 86_400;
        let first = 1_700_006_400;
        let (reports, batch) = history(31, first, 40, 5_000);
        store.ingest(&batch).await.expect("ingest");
        let before = first + 17 * DAY;
        let generation = store.data_generation().await.expect("generation");
        let purged = store.purge(before).await.expect("purge");
        let (gone, kept): (Vec<Report>, Vec<Report>) = reports.into_iter().partition(|r| {
            r.report_metadata
                .date_range
                .begin
                .max(r.report_metadata.date_range.end)
                < before
        });
        assert!(!gone.is_empty() && !kept.is_empty());
        assert_eq!(purged.reports as usize, gone.len());
        assert_eq!(
            purged.records as usize,
            gone.iter().map(|r| r.records.len()).sum::<usize>()
        );
        assert_eq!(
            (purged.payloads as usize, purged.log_rows as usize),
            (gone.len(), gone.len())
        );
        assert!(store.data_generation().await.expect("generation") > generation);
        let totals = store.totals().await.expect("totals");
        assert_eq!(
            (totals.reports as usize, totals.payloads as usize),
            (kept.len(), kept.len())
        );
        for filter in [
            Filter::default(),
            Filter {
                from: Some(first + 20 * DAY),
                to: Some(first + 33 * DAY),
                ..Filter::default()
            },
            Filter {
                domains: vec!["domain2.example".into()],
                ..Filter::default()
            },
            Filter {
                dkim: Some(Verdict::Pass),
                ..Filter::default()
            },
        ] {
            assert_rollups_equal(&store, &kept, &filter, &format!("after purge {filter:?}")).await;
        }
        assert_eq!(
            store.purge(before).await.expect("again"),
            dmarc_store::PurgeSummary::default()
        );
    }
);

// A purge and an ingestion at the same time: the new reports all stay, the old ones go.
contract!(
    a_purge_beside_an_ingestion_loses_nothing_that_should_stay,
    |store| {
        const DAY: i64 = 86_400;
        let first = 1_700_006_400;
        let (_, old) = history(41, first, 20, 3_000);
        store.ingest(&old).await.expect("old");
        let (new_reports, new) = history(43, first + 30 * DAY, 20, 3_000);
        let before = first + 25 * DAY;
        let ingesting = async {
            for chunk in new.chunks(7) {
                store.ingest(chunk).await.expect("new");
            }
        };
        let (_, purged) = tokio::join!(ingesting, store.purge(before));
        let purged = purged.expect("purge");
        assert_eq!(purged.reports as usize, old.len());
        let totals = store.totals().await.expect("totals");
        assert_eq!(totals.reports as usize, new_reports.len());
        assert_eq!(totals.payloads as usize, new.len());
        assert_rollups_equal(
            &store,
            &new_reports,
            &Filter::default(),
            "beside an ingestion",
        )
        .await;
    }
);

/// An enrichment step that notes what it saw: reports, records and messages by address.
#[derive(Debug, Default)]
struct Seen {
    reports: std::sync::atomic::AtomicU64,
    records: std::sync::atomic::AtomicU64,
    messages: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

impl dmarc_store::Enrich for Seen {
    fn enrich(&self, report: &mut ReportRows) {
        use std::sync::atomic::Ordering::Relaxed;
        self.reports.fetch_add(1, Relaxed);
        self.records.fetch_add(report.record_count(), Relaxed);
        let mut messages = self.messages.lock().expect("lock");
        for (ip, count) in report.sources() {
            let key = ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
            *messages.entry(key).or_default() += count;
        }
    }
}

contract!(
    the_enrichment_step_sees_every_report_ingested_or_reprocessed,
    |store| {
        use std::sync::atomic::Ordering::Relaxed;
        let mut generator = Generator::new(21);
        let generated = generator.batch(6, 2, 1_700_006_400, 50);
        let mut expected = std::collections::BTreeMap::<String, u64>::new();
        for report in &generated {
            for record in &parse_one(report.xml.as_bytes()).records {
                let key = record
                    .source_ip
                    .map_or_else(|| "-".to_owned(), |ip| ip.to_string());
                *expected.entry(key).or_default() += record.count;
            }
        }
        let records: u64 = generated
            .iter()
            .map(|g| parse_one(g.xml.as_bytes()).records.len() as u64)
            .sum();
        let seen = std::sync::Arc::new(Seen::default());
        let options = dmarc_store::PipelineOptions {
            enrich: Some(seen.clone()),
            parsers: 2,
            ..dmarc_store::PipelineOptions::new(ParseOptions::at(dmarc_store::unix_now()))
        };
        let mut inputs: Vec<(String, Vec<u8>)> = generated
            .iter()
            .enumerate()
            .map(|(i, g)| (format!("g{i}.xml"), g.xml.clone().into_bytes()))
            .collect();
        inputs.push(("noise.txt".to_owned(), b"not a report".to_vec()));
        let done = ingest_inputs(store.clone(), inputs, options.clone()).await;
        assert_eq!(done.len(), generated.len() + 1);
        assert_eq!(
            seen.reports.load(Relaxed),
            generated.len() as u64,
            "rejected inputs have no report to enrich"
        );
        assert_eq!(seen.records.load(Relaxed), records);
        assert_eq!(*seen.messages.lock().expect("lock"), expected);

        // Reprocessing goes through the same pipeline, so through the same step, and
        // rewrites in place: every report comes back refreshed, the noise rejected again.
        let again = store.reprocess(options, false).await.expect("reprocess");
        assert_eq!(
            (
                again.payloads,
                again.accepted,
                again.refreshed,
                again.duplicate,
                again.rejected
            ),
            (generated.len() as u64 + 1, 0, generated.len() as u64, 0, 1)
        );
        assert_eq!(seen.reports.load(Relaxed), 2 * generated.len() as u64);
        let totals = store.totals().await.expect("totals");
        assert_eq!(
            (totals.reports, totals.records),
            (generated.len() as u64, records)
        );
        let log = store.outcomes(Page::first(100)).await.expect("outcomes");
        let refreshed = log
            .items
            .iter()
            .filter(|o| o.outcome == OutcomeStatus::Refreshed)
            .count();
        assert_eq!(
            refreshed,
            generated.len(),
            "the ingest log says what reprocessing did"
        );
    }
);

contract!(batches_end_at_the_bytes_bound_as_well, |store| {
    // One byte per batch: every input goes alone, with the same outcomes as in one batch.
    let generated = Generator::new(23).batch(5, 1, 1_700_006_400, 20);
    let inputs: Vec<(String, Vec<u8>)> = generated
        .iter()
        .enumerate()
        .map(|(i, g)| (format!("b{i}.xml"), g.xml.clone().into_bytes()))
        .collect();
    let options = dmarc_store::PipelineOptions {
        batch_bytes: 1,
        ..dmarc_store::PipelineOptions::new(ParseOptions::at(dmarc_store::unix_now()))
    };
    let done = ingest_inputs(store.clone(), inputs, options).await;
    let accepted = done
        .iter()
        .flat_map(|d| &d.outcomes)
        .filter(|o| o.outcome == OutcomeStatus::Accepted)
        .count();
    assert_eq!(accepted, generated.len());
    let totals = store.totals().await.expect("totals");
    assert_eq!(
        (totals.payloads, totals.reports),
        (generated.len() as u64, generated.len() as u64)
    );
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_committed_ingest_bumps_the_data_generation() {
    for db in testing::databases().await {
        let store = connect(&db.url).await.expect("connect");
        let before = store.data_generation().await.expect("generation");
        let report = Generator::new(29).report(Reporter::Google, "example.net", 1_700_006_400, 5);
        store
            .ingest(&[prepare_bytes("g.xml", report.xml.as_bytes())])
            .await
            .expect("ingest");
        let after = store.data_generation().await.expect("generation");
        assert!(after > before, "{before} -> {after}");
        // Another process on the same database reads the same number.
        let other = connect(&db.url).await.expect("connect");
        assert_eq!(other.data_generation().await.expect("generation"), after);
    }
}

contract!(concurrent_writers_store_each_report_once, |store| {
    let mut generator = Generator::new(13);
    let batch: Vec<Prepared> = generator
        .batch(40, 2, 1_700_006_400, 800)
        .iter()
        .enumerate()
        .map(|(i, g)| prepare_bytes(&format!("c{i}.xml"), g.xml.as_bytes()))
        .collect();
    let expected = testing::distinct(&reports_of(&batch));
    let mut tasks = Vec::new();
    for writer in 0..4 {
        let store = store.clone();
        // Overlapping halves, in batches of five, in different orders.
        let mut mine: Vec<Prepared> = batch[(writer % 2) * 10..(writer % 2) * 10 + 30].to_vec();
        if writer >= 2 {
            mine.reverse();
        }
        tasks.push(tokio::spawn(async move {
            for chunk in mine.chunks(5) {
                store.ingest(chunk).await.expect("ingest");
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
    let totals = store.totals().await.expect("totals");
    assert_eq!(totals.reports as usize, expected.len());
    assert_eq!(
        totals.records as usize,
        expected.iter().map(|r| r.records.len()).sum::<usize>()
    );
});

/// A database written before periods were checked can hold a report dated in the year
/// 285,000,000,000. Queries stay bounded over it, and migration 0004 moves it out and marks
/// its input for a new parse, which rejects it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_future_period_cannot_break_a_query_and_is_moved_out() {
    let regression = |name: &str| {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../dmarc-core/tests/data/regressions")
                .join(name),
        )
        .expect("regression file")
    };
    for (db, store) in testing::stores().await {
        eprintln!("on {:?}", store.backend());
        // What the old parser let in: the clock far ahead accepts the period as seconds.
        let then = ParseOptions::at(i64::MAX);
        let batch = vec![
            prepare("normal.xml", &regression("normal.xml"), &then),
            prepare("huge9e18.xml", &regression("huge9e18.xml"), &then),
        ];
        let outcomes = store.ingest(&batch).await.expect("ingest");
        assert_eq!(count(&outcomes, OutcomeStatus::Accepted), 2, "{outcomes:?}");
        let all = Filter::default();
        let days = store.timeline(&all).await.expect("timeline");
        assert_eq!(days.len(), 2, "only the days with messages: {days:?}");
        assert_eq!(store.failure_trend(&all, 7).await.expect("trend").len(), 2);
        let period = Filter {
            from: Some(1_699_920_000),
            to: Some(1_700_956_800),
            ..Filter::default()
        };
        // One message: one day, of the two the report overlaps.
        assert_eq!(store.timeline(&period).await.expect("period").len(), 1);
        assert_eq!(store.summary(&all).await.expect("summary").reports, 2);

        let migration = match store.backend() {
            dmarc_store::Backend::Sqlite => include_str!("../migrations/sqlite/0004_periods.sql"),
            dmarc_store::Backend::Postgres => {
                include_str!("../migrations/postgres/0004_periods.sql")
            }
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(migration))
            .execute(store.pool())
            .await
            .expect("migration");
        // normal.xml stays, but crosses midnight: it is parsed again to be spread per class.
        let totals = store.totals().await.expect("totals");
        assert_eq!((totals.reports, totals.payloads, totals.pending), (1, 2, 2));
        let summary = store
            .reprocess(
                dmarc_store::PipelineOptions::new(ParseOptions::at(dmarc_store::unix_now())),
                true,
            )
            .await
            .expect("reprocess");
        assert_eq!(
            (summary.payloads, summary.rejected, summary.refreshed),
            (2, 1, 1)
        );
        let log = store.outcomes(Page::first(1)).await.expect("log");
        let error = log.items[0].error.as_ref().expect("why");
        assert_eq!(error.kind, dmarc_core::ErrorKind::InvalidDateRange);
        assert!(error.message.contains("in the future"), "{error}");
        assert_eq!(store.timeline(&all).await.expect("timeline").len(), 1);
        drop(db);
    }
}

/// Reads stop at the store's time limit with `StoreError::Timeout` (PostgreSQL's
/// `statement_timeout`, SQLite's progress handler), and the store goes on answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_stop_at_the_time_limit() {
    for db in testing::databases().await {
        let limit = std::time::Duration::from_millis(1);
        let store = dmarc_store::Store::connect_with(&db.url, limit)
            .await
            .expect("connect");
        eprintln!("on {:?}", store.backend());
        let batch: Vec<Prepared> = Generator::new(5)
            .batch(20, 2, 1_700_006_400, 40_000)
            .iter()
            .enumerate()
            .map(|(i, g)| prepare_bytes(&format!("t{i}.xml"), g.xml.as_bytes()))
            .collect();
        store
            .ingest(&batch)
            .await
            .expect("writes have no time limit");
        let every_address = Filter {
            source_ip: Some("::/0".parse().expect("cidr")),
            ..Filter::default()
        };
        let error = store.summary(&every_address).await.expect_err("stopped");
        assert!(matches!(error, dmarc_store::StoreError::Timeout), "{error}");
        // The store goes on: what was written is all there.
        assert_eq!(store.totals().await.expect("totals").records, 40_000);
    }
}

/// Ingests `inputs` through the pipeline with `options`; the outcomes per input.
async fn ingest_inputs(
    store: Store,
    inputs: Vec<(String, Vec<u8>)>,
    options: dmarc_store::PipelineOptions,
) -> Vec<dmarc_store::InputDone> {
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    let feed = async move {
        for (name, bytes) in inputs {
            let input = dmarc_store::Input {
                name,
                bytes: Ok(bytes),
            };
            sender.send(input).await.expect("send");
        }
    };
    let mut done = Vec::new();
    let ((), result) = tokio::join!(
        feed,
        dmarc_store::ingest_inputs(store, receiver, options, |d| done.push(d))
    );
    result.expect("ingest");
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_rejected_inputs_keep_only_their_head() {
    for (_db, sql_store) in testing::stores().await {
        let store: Store = sql_store.clone();
        let noise = |n: usize, seed: u64| -> Vec<u8> {
            // Bytes no container starts with, for ever changing.
            let mut x = seed | 1;
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8 | 0x80
                })
                .collect()
        };
        let report = Generator::new(3)
            .report(Reporter::Microsoft, "example.com", 1_700_006_400, 600)
            .xml
            .into_bytes();
        assert!(report.len() > 200_000);
        let options = dmarc_store::PipelineOptions {
            rejected_keep_bytes: 100_000,
            ..dmarc_store::PipelineOptions::new(ParseOptions::at(dmarc_store::unix_now()))
        };
        let inputs = vec![
            ("big-noise".to_owned(), noise(300_000, 1)),
            ("small-noise".to_owned(), noise(50_000, 2)),
            ("report.xml".to_owned(), report),
        ];
        let done = ingest_inputs(store.clone(), inputs, options).await;
        let statuses: Vec<OutcomeStatus> = done.iter().map(|d| d.outcomes[0].outcome).collect();
        assert_eq!(
            statuses,
            [
                OutcomeStatus::Rejected,
                OutcomeStatus::Rejected,
                OutcomeStatus::Accepted
            ]
        );
        assert_eq!(store.totals().await.expect("totals").payloads, 3);
        // Every input is there with its size and digest; the large rejected one holds its head.
        let rows: Vec<(String, i64, i64, Vec<u8>)> =
            sqlx::query_as("SELECT name, size, truncated, content FROM payloads ORDER BY id")
                .fetch_all(sql_store.pool())
                .await
                .expect("payloads");
        let gunzip = |bytes: &[u8]| {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out)
                .expect("gzip");
            out
        };
        let mut kept: Vec<(&str, i64, i64, usize)> = rows
            .iter()
            .map(|(name, size, truncated, content)| {
                (name.as_str(), *size, *truncated, gunzip(content).len())
            })
            .collect();
        kept.sort();
        assert_eq!(kept[0], ("big-noise", 300_000, 1, dmarc_store::KEPT_HEAD));
        assert_eq!(
            (kept[1].0, kept[1].2, kept[1].3 as i64),
            ("report.xml", 0, kept[1].1)
        );
        assert_eq!(kept[2], ("small-noise", 50_000, 0, 50_000));
        // Reprocessing skips what cannot be parsed again.
        let again = store
            .reprocess(
                dmarc_store::PipelineOptions::new(ParseOptions::at(dmarc_store::unix_now())),
                false,
            )
            .await
            .expect("reprocess");
        assert_eq!(again.payloads, 2);
    }
}

/// An enrichment step placing each address by its last byte: even in Sweden (AS64500),
/// odd in the United States (AS64501), with the time and source given.
#[derive(Debug)]
struct Placing {
    at: i64,
    source: &'static str,
}

fn place_of(ip: std::net::IpAddr) -> dmarc_core::GeoInfo {
    let last = match ip {
        std::net::IpAddr::V4(v4) => v4.octets()[3],
        std::net::IpAddr::V6(v6) => v6.octets()[15],
    };
    let (country, asn) = if last % 2 == 0 {
        ("SE", 64_500)
    } else {
        ("US", 64_501)
    };
    dmarc_core::GeoInfo {
        country_code: Some(country.to_owned()),
        country_name: Some(format!("{country} name")),
        latitude: Some(59.5 + f64::from(last) / 1e6),
        longitude: Some(-18.25),
        asn: Some(asn),
        ..Default::default()
    }
}

impl dmarc_store::Enrich for Placing {
    fn enrich(&self, report: &mut ReportRows) {
        let mut seen = HashSet::new();
        let addresses: Vec<_> = report.sources().filter_map(|(ip, _)| ip).collect();
        for ip in addresses.into_iter().filter(|ip| seen.insert(*ip)) {
            report.add_place(dmarc_store::Place {
                ip,
                info: place_of(ip),
                resolved_at: self.at,
                source: self.source.to_owned(),
            });
        }
    }
}

contract!(
    places_from_the_enrichment_step_make_the_country_map,
    |store| {
        let generated = Generator::new(31).batch(8, 2, 1_700_006_400, 60);
        let reports: Vec<Report> = generated
            .iter()
            .map(|g| parse_one(g.xml.as_bytes()))
            .collect();
        let options = dmarc_store::PipelineOptions {
            enrich: Some(std::sync::Arc::new(Placing {
                at: 1_000,
                source: "test 1",
            })),
            ..dmarc_store::PipelineOptions::new(ParseOptions::at(dmarc_store::unix_now()))
        };
        let inputs: Vec<(String, Vec<u8>)> = generated
            .iter()
            .enumerate()
            .map(|(i, g)| (format!("p{i}.xml"), g.xml.clone().into_bytes()))
            .collect();
        ingest_inputs(store.clone(), inputs, options).await;

        // Every address is placed, as the step said, in the ingest transaction.
        let ips: Vec<std::net::IpAddr> = rollup::by_source(&reports, &Filter::default())
            .iter()
            .filter_map(|g| g.source_ip)
            .collect();
        assert!(ips.len() > 20, "{} addresses", ips.len());
        let places = store.places(&ips).await.expect("places");
        assert_eq!(places.len(), ips.len());
        for ip in &ips {
            let place = &places[ip];
            let want = place_of(*ip);
            assert_eq!(place.info.country_code, want.country_code);
            assert_eq!(place.info.asn, want.asn);
            let lat = place.info.latitude.expect("latitude");
            assert!((lat - want.latitude.expect("lat")).abs() < 1e-6, "{lat}");
            assert_eq!(
                (place.resolved_at, place.source.as_str()),
                (1_000, "test 1")
            );
        }

        // The map equals the core's sources summed per country: from the aggregates (whole
        // days) and from the records (a condition on records).
        let day = 86_400;
        for filter in [
            Filter::default(),
            Filter {
                from: Some(1_700_006_400 / day * day + day),
                ..Filter::default()
            },
            Filter {
                dkim: Some(dmarc_core::Verdict::Fail),
                ..Filter::default()
            },
        ] {
            let mut want: std::collections::BTreeMap<String, (u64, u64, u64)> = Default::default();
            for g in rollup::by_source(&reports, &filter) {
                let Some(ip) = g.source_ip else { continue };
                let country = place_of(ip).country_code.expect("a country");
                let entry = want.entry(country).or_default();
                entry.0 += g.tally.messages;
                entry.1 += g.tally.dmarc_pass;
                entry.2 += 1;
            }
            let got: std::collections::BTreeMap<String, (u64, u64, u64)> = store
                .country_map(&filter)
                .await
                .expect("map")
                .into_iter()
                .map(|c| {
                    assert_eq!(c.dmarc_fail, c.messages - c.dmarc_pass);
                    assert_eq!(
                        c.country_name,
                        c.country.as_ref().map(|c| format!("{c} name"))
                    );
                    (
                        c.country.expect("placed"),
                        (c.messages, c.dmarc_pass, c.sources),
                    )
                })
                .collect();
            assert_eq!(got, want, "{filter:?}");
            // The addresses of one country, most messages first, paged as the core's.
            for country in ["SE", "US"] {
                let of_country: Vec<_> = rollup::by_source(&reports, &filter)
                    .into_iter()
                    .filter(|g| {
                        g.source_ip
                            .is_some_and(|ip| place_of(ip).country_code.as_deref() == Some(country))
                    })
                    .collect();
                for offset in [0, 7] {
                    let page = store
                        .sources_in_country(&filter, country, Page { limit: 5, offset })
                        .await
                        .expect("sources in a country");
                    assert_eq!(
                        page.total as usize,
                        of_country.len(),
                        "{country} {filter:?}"
                    );
                    let want: Vec<_> = of_country
                        .iter()
                        .skip(offset as usize)
                        .take(5)
                        .cloned()
                        .collect();
                    assert_eq!(page.items, want, "{country} {filter:?} at {offset}");
                }
            }
        }
        let nowhere = store
            .sources_in_country(&Filter::default(), "FR", Page::first(10))
            .await
            .expect("no address there");
        assert_eq!((nowhere.total, nowhere.items.len()), (0, 0));

        // Stale: placed by other databases, or before the time asked; then refreshed.
        assert!(
            store
                .stale_places(1_000, "test 1", 10_000)
                .await
                .expect("stale")
                .is_empty()
        );
        let mut stale = store
            .stale_places(1_001, "test 1", 10_000)
            .await
            .expect("stale");
        stale.sort();
        let mut sorted = ips.clone();
        sorted.sort();
        assert_eq!(stale, sorted);
        assert_eq!(
            store
                .stale_places(0, "test 2", 5)
                .await
                .expect("stale")
                .len(),
            5
        );
        let refreshed: Vec<dmarc_store::Place> = ips
            .iter()
            .map(|&ip| dmarc_store::Place {
                ip,
                info: dmarc_core::GeoInfo {
                    country_code: Some("NO".into()),
                    ..Default::default()
                },
                resolved_at: 2_000,
                source: "test 2".into(),
            })
            .collect();
        store.put_places(&refreshed).await.expect("put");
        assert!(
            store
                .stale_places(2_000, "test 2", 10)
                .await
                .expect("stale")
                .is_empty()
        );
        let map = store.country_map(&Filter::default()).await.expect("map");
        assert_eq!(map.len(), 1);
        assert_eq!(map[0].country.as_deref(), Some("NO"));
        assert_eq!(map[0].sources, ips.len() as u64);
    }
);

contract!(
    models_are_versioned_one_is_active_and_predictions_are_history,
    |store| {
        use dmarc_store::{DetectionRun, NewModel, NewPrediction, PredictionFilter};
        let model = |n: u8| NewModel {
            params: serde_json::json!({ "trees": 100, "seed": n }),
            window: (1_000, 2_000),
            domain: None,
            sources: 500,
            stats: serde_json::json!({ "median": [n] }),
            metrics: serde_json::json!({ "seconds": 0.5 }),
            forest: vec![n; 300],
            created_by: "a@example.com".into(),
            created_at: 3_000 + i64::from(n),
        };
        assert!(store.active_model().await.expect("active").is_none());
        let first = store.add_model(&model(1)).await.expect("first");
        let second = store.add_model(&model(2)).await.expect("second");
        assert_eq!((first.version, second.version), (1, 2));
        assert!(!first.active && !second.active, "stored, not deployed");
        assert_eq!(second.params["seed"], 2);
        let listed = store.models(Page::first(10)).await.expect("list");
        assert_eq!(listed.total, 2);
        assert_eq!(listed.items[0].version, 2, "newest first");

        let deployed = store.deploy_model(1, 4_000).await.expect("deploy");
        assert_eq!(
            deployed.map(|m| (m.active, m.deployed_at)),
            Some((true, Some(4_000)))
        );
        store
            .deploy_model(2, 5_000)
            .await
            .expect("deploy")
            .expect("exists");
        let (active, forest) = store.active_model().await.expect("active").expect("one");
        assert_eq!((active.version, forest), (2, vec![2; 300]));
        let (one, _) = store.model(1).await.expect("model").expect("exists");
        assert!(!one.active, "one active model at a time");
        assert!(
            store
                .deploy_model(9, 6_000)
                .await
                .expect("deploy")
                .is_none()
        );
        assert_eq!(
            store
                .active_model()
                .await
                .expect("active")
                .expect("one")
                .0
                .version,
            2
        );

        let prediction = |last: u8, score: f64| NewPrediction {
            source_ip: format!("192.0.2.{last}").parse().expect("address"),
            score,
            anomalous: score > 0.5,
            reasons: if score > 0.5 {
                vec!["DMARC never passed".into()]
            } else {
                Vec::new()
            },
            features: vec![1.5, 0.0],
            messages: 10,
            dmarc_fail: 4,
        };
        let run = |at: i64, domain: Option<&str>| DetectionRun {
            model_id: active.id,
            run_at: at,
            window: (at - 100, at),
            domain: domain.map(str::to_owned),
        };
        store
            .add_predictions(&run(7_000, None), &[prediction(1, 0.4), prediction(2, 0.7)])
            .await
            .expect("first run");
        store
            .add_predictions(
                &run(8_000, None),
                &[prediction(1, 0.45), prediction(3, 0.9), prediction(2, 0.62)],
            )
            .await
            .expect("second run");
        store
            .add_predictions(&run(9_000, Some("example.com")), &[prediction(4, 0.99)])
            .await
            .expect("a domain's run");

        let latest = store
            .predictions(&PredictionFilter::default(), Page::first(10))
            .await
            .expect("latest");
        let order: Vec<(&str, i64)> = latest
            .items
            .iter()
            .map(|p| (p.source_ip.as_str(), p.run_at))
            .collect();
        assert_eq!(
            order,
            [
                ("192.0.2.3", 8_000),
                ("192.0.2.2", 8_000),
                ("192.0.2.1", 8_000)
            ],
            "the latest run of every domain, highest score first"
        );
        assert_eq!(latest.items[0].score, 0.9);
        assert_eq!(latest.items[0].reasons, ["DMARC never passed"]);
        assert_eq!(latest.items[0].features, [1.5, 0.0]);
        assert_eq!(latest.items[0].model_version, 2);
        let history = store
            .predictions(
                &PredictionFilter {
                    since: Some(0),
                    anomalous_only: true,
                    ..PredictionFilter::default()
                },
                Page::first(10),
            )
            .await
            .expect("history");
        assert_eq!(
            history.total, 3,
            "2 anomalous in the second run, 1 in the first"
        );
        let one = store
            .predictions(
                &PredictionFilter {
                    since: Some(0),
                    source_ip: Some("192.0.2.2".parse().expect("address")),
                    min_score: Some(0.65),
                    ..PredictionFilter::default()
                },
                Page::first(10),
            )
            .await
            .expect("one source");
        assert_eq!(
            one.items.iter().map(|p| p.run_at).collect::<Vec<_>>(),
            [7_000]
        );
        let domain = store
            .predictions(
                &PredictionFilter {
                    domain: Some("Example.COM".into()),
                    ..PredictionFilter::default()
                },
                Page::first(10),
            )
            .await
            .expect("domain");
        assert_eq!(domain.items.len(), 1);
        assert_eq!(domain.items[0].domain.as_deref(), Some("example.com"));
    }
);
