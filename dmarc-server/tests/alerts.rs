//! Alert rules on both backends: each kind fires on data made for it and stays quiet on
//! data that does not meet it (evaluated at a fixed time, so the same data gives the same
//! findings), then the API: rules, an evaluation job over the corpus with a window of years,
//! one alert per subject, acknowledge and resolve with who and when, suppressions. Delivery
//! to the channels is tested in `alert_delivery.rs`.
//!
//! The suite stays whole in one file: every file under `tests/` is a test binary of its
//! own, linked against the whole crate graph, so one suite per subject keeps builds short.

mod support;

use std::time::Duration;

use dmarc_core::ParseOptions;
use dmarc_server::alerts::{RuleRequest, evaluate};
use dmarc_store::{AlertRule, JobState, Role, Store, testing};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::server::*;

/// The evaluation time of the kind tests: 2025-06-15 00:00 UTC.
const AT: i64 = 1_749_945_600;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// A record: address, messages, aligned DKIM pass, aligned SPF pass, disposition.
type Row<'a> = (&'a str, u64, bool, bool, &'a str);

/// A report of `domain` for `[begin, end)` with policy `p` and the given records.
fn report(domain: &str, id: &str, begin: i64, end: i64, p: &str, rows: &[Row<'_>]) -> Vec<u8> {
    let verdict = |pass: bool| if pass { "pass" } else { "fail" };
    let records: String = rows
        .iter()
        .map(|(ip, count, dkim, spf, disposition)| {
            format!(
                "<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>\
                 <disposition>{disposition}</disposition><dkim>{}</dkim><spf>{}</spf>\
                 </policy_evaluated></row><identifiers><header_from>{domain}</header_from>\
                 </identifiers><auth_results><spf><domain>{domain}</domain><result>{}</result>\
                 </spf></auth_results></record>",
                verdict(*dkim),
                verdict(*spf),
                verdict(*spf)
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>Tester</org_name>\
         <email>t@reporter.example</email><report_id>{id}</report_id><date_range><begin>{begin}\
         </begin><end>{end}</end></date_range></report_metadata><policy_published><domain>{domain}\
         </domain><p>{p}</p><pct>100</pct></policy_published>{records}</feedback>"
    )
    .into_bytes()
}

/// A report to store.
struct Fixture {
    domain: &'static str,
    id: String,
    begin: i64,
    end: i64,
    p: &'static str,
    rows: Vec<Row<'static>>,
}

/// Stores the reports.
async fn load(store: &Store, reports: &[Fixture]) {
    let prepared: Vec<_> = reports
        .iter()
        .map(|f| {
            dmarc_store::prepare(
                format!("{}.xml", f.id),
                &report(f.domain, &f.id, f.begin, f.end, f.p, &f.rows),
                &ParseOptions::at(dmarc_store::unix_now()),
            )
        })
        .collect();
    for outcome in store.ingest(&prepared).await.expect("ingest").concat() {
        assert!(outcome.report.is_some(), "{outcome:?}");
    }
}

/// A stored rule of `kind` with `params` for every domain.
async fn rule(store: &Store, kind: &str, params: Value) -> AlertRule {
    let request: RuleRequest = serde_json::from_value(json!({
        "name": format!("{kind} {params}"), "kind": kind, "severity": "warning", "params": params,
    }))
    .expect("a rule request");
    let settings = request.settings().expect("valid");
    store
        .create_alert_rule(&settings, "test")
        .await
        .expect("stored")
}

/// The subjects `rule` finds at [`AT`], sorted.
async fn subjects(store: &Store, rule: &AlertRule) -> Vec<String> {
    let mut found: Vec<String> = evaluate(store, rule, AT)
        .await
        .expect("evaluated")
        .into_iter()
        .map(|f| f.subject)
        .collect();
    found.sort();
    found
}

/// A day's report ending at `end`.
fn day(
    domain: &'static str,
    id: String,
    end: i64,
    p: &'static str,
    rows: Vec<Row<'static>>,
) -> Fixture {
    Fixture {
        domain,
        id,
        begin: end - DAY,
        end,
        p,
        rows,
    }
}

#[tokio::test]
async fn each_kind_fires_on_its_condition_and_only_then() {
    for (_db, store) in testing::stores().await {
        let mut reports = vec![
            // failure_rate: 25 % of 200 fail; 1 % of 200; all 10 of 10 (below the volume).
            day(
                "fail.example",
                "f1".into(),
                AT,
                "none",
                vec![
                    ("192.0.2.1", 150, true, true, "none"),
                    ("192.0.2.2", 50, false, false, "none"),
                ],
            ),
            day(
                "ok.example",
                "o1".into(),
                AT,
                "none",
                vec![
                    ("192.0.2.1", 198, true, false, "none"),
                    ("192.0.2.2", 2, false, false, "none"),
                ],
            ),
            day(
                "small.example",
                "s1".into(),
                AT,
                "none",
                vec![("192.0.2.2", 10, false, false, "none")],
            ),
            // new_source: 192.0.2.50 was seen 10 days ago; 198.51.100.9 is new, 198.51.100.10
            // is new but sends too little.
            day(
                "new.example",
                "n0".into(),
                AT - 10 * DAY,
                "none",
                vec![("192.0.2.50", 5, true, true, "none")],
            ),
            day(
                "new.example",
                "n1".into(),
                AT,
                "none",
                vec![
                    ("192.0.2.50", 50, false, false, "none"),
                    ("198.51.100.9", 20, false, false, "none"),
                    ("198.51.100.10", 3, false, false, "none"),
                ],
            ),
            // missing_reports: the last report of quiet.example ended 3 days ago.
            day(
                "quiet.example",
                "q1".into(),
                AT - 3 * DAY,
                "none",
                vec![("192.0.2.1", 5, true, true, "none")],
            ),
            // policy_change: none -> reject; steady stays quarantine.
            day(
                "pol.example",
                "p0".into(),
                AT - 5 * DAY,
                "none",
                vec![("192.0.2.1", 5, true, true, "none")],
            ),
            day(
                "pol.example",
                "p1".into(),
                AT,
                "reject",
                vec![("192.0.2.1", 5, true, true, "none")],
            ),
            day(
                "steady.example",
                "t0".into(),
                AT - 5 * DAY,
                "quarantine",
                vec![("192.0.2.1", 5, true, true, "none")],
            ),
            day(
                "steady.example",
                "t1".into(),
                AT,
                "quarantine",
                vec![("192.0.2.1", 5, true, true, "none")],
            ),
        ];
        // volume_spike: 100 messages a day for a week, then 1,000 (spike.example) or 110.
        for d in 1..=7 {
            for (domain, prefix) in [("spike.example", "v"), ("flat.example", "w")] {
                reports.push(day(
                    domain,
                    format!("{prefix}{d}"),
                    AT - d * DAY,
                    "none",
                    vec![("192.0.2.7", 100, true, true, "none")],
                ));
            }
        }
        reports.push(day(
            "spike.example",
            "v0".into(),
            AT,
            "none",
            vec![("192.0.2.7", 1_000, true, true, "none")],
        ));
        reports.push(day(
            "flat.example",
            "w0".into(),
            AT,
            "none",
            vec![("192.0.2.7", 110, true, true, "none")],
        ));
        load(&store, &reports).await;

        let failures = rule(
            &store,
            "failure_rate",
            json!({ "threshold": 0.1, "window_hours": 24, "min_messages": 100 }),
        )
        .await;
        assert_eq!(subjects(&store, &failures).await, ["fail.example"]);
        let strict = rule(
            &store,
            "failure_rate",
            json!({ "threshold": 0.5, "window_hours": 24, "min_messages": 100 }),
        )
        .await;
        assert!(subjects(&store, &strict).await.is_empty());

        let spikes = rule(
            &store,
            "volume_spike",
            json!({ "factor": 3.0, "window_hours": 24, "baseline_days": 7, "min_messages": 100 }),
        )
        .await;
        assert_eq!(subjects(&store, &spikes).await, ["spike.example"]);
        let high = rule(
            &store,
            "volume_spike",
            json!({ "factor": 20.0, "window_hours": 24, "baseline_days": 7, "min_messages": 100 }),
        )
        .await;
        assert!(subjects(&store, &high).await.is_empty());

        let newcomers = rule(
            &store,
            "new_source",
            json!({ "window_hours": 24, "lookback_days": 30, "min_failing": 10 }),
        )
        .await;
        // fail.example has no earlier reports: its failing address is new too.
        assert_eq!(
            subjects(&store, &newcomers).await,
            ["fail.example 192.0.2.2", "new.example 198.51.100.9"]
        );
        // A placed newcomer is named with its country and network. Networks: 192.0.2.50
        // (seen before) and 198.51.100.9 share AS64500; 198.51.100.10 is alone in AS64501,
        // and fail.example's 192.0.2.2 in AS64502.
        let place = |ip: &str, country: &str, asn: u32, org: &str| dmarc_store::Place {
            ip: ip.parse().expect("an address"),
            info: dmarc_core::GeoInfo {
                country_code: Some(country.into()),
                asn: Some(asn),
                as_org: Some(org.into()),
                ..Default::default()
            },
            resolved_at: AT,
            source: "test".into(),
        };
        store
            .put_places(&[
                place("192.0.2.50", "NL", 64_500, "Example Hosting"),
                place("198.51.100.9", "NL", 64_500, "Example Hosting"),
                place("198.51.100.10", "SE", 64_501, "Other Net"),
                place("192.0.2.2", "US", 64_502, "Far Away"),
            ])
            .await
            .expect("places");
        let found = evaluate(&store, &newcomers, AT).await.expect("evaluated");
        let placed = found
            .iter()
            .find(|f| f.subject == "new.example 198.51.100.9")
            .expect("the newcomer");
        assert!(
            placed
                .summary
                .contains("198.51.100.9 (NL AS64500 Example Hosting), sent 20 failing"),
            "{}",
            placed.summary
        );
        assert_eq!(placed.detail["asn"], 64_500);
        // New networks: AS64500 was seen for new.example through 192.0.2.50; AS64502 is new
        // to fail.example and to small.example, which have no earlier reports.
        let networks = rule(
            &store,
            "new_network",
            json!({ "window_hours": 24, "lookback_days": 30, "min_failing": 2 }),
        )
        .await;
        assert_eq!(
            subjects(&store, &networks).await,
            [
                "fail.example AS64502",
                "new.example AS64501",
                "small.example AS64502"
            ]
        );
        let found = evaluate(&store, &networks, AT).await.expect("evaluated");
        let other = found
            .iter()
            .find(|f| f.subject == "new.example AS64501")
            .expect("AS64501");
        assert!(
            other.summary.contains(
                "a new network (SE AS64501 Other Net), sent 3 failing messages from 1 address (198.51.100.10)"
            ),
            "{}",
            other.summary
        );
        let louder = rule(
            &store,
            "new_network",
            json!({ "window_hours": 24, "lookback_days": 30, "min_failing": 3 }),
        )
        .await;
        assert_eq!(
            subjects(&store, &louder).await,
            ["fail.example AS64502", "small.example AS64502"]
        );
        let short_memory = rule(
            &store,
            "new_source",
            json!({ "window_hours": 24, "lookback_days": 30, "min_failing": 100 }),
        )
        .await;
        assert!(subjects(&store, &short_memory).await.is_empty());

        let missing = rule(&store, "missing_reports", json!({ "hours": 48 })).await;
        assert_eq!(subjects(&store, &missing).await, ["quiet.example"]);
        let patient = rule(&store, "missing_reports", json!({ "hours": 24 * 7 })).await;
        assert!(subjects(&store, &patient).await.is_empty());

        let policy = rule(&store, "policy_change", json!({ "window_hours": 24 })).await;
        assert_eq!(
            subjects(&store, &policy).await,
            ["pol.example p=reject; sp=-; pct=100; adkim=-; aspf=-; np=-"]
        );
        // A window that holds both reports sees no change before it.
        let long = rule(&store, "policy_change", json!({ "window_hours": 24 * 30 })).await;
        assert!(subjects(&store, &long).await.is_empty());

        // The same data at the same time: the same findings, fingerprints included.
        let once = evaluate(&store, &failures, AT).await.unwrap();
        assert_eq!(once, evaluate(&store, &failures, AT).await.unwrap());
    }
}

#[test]
fn rules_are_checked_before_they_are_stored() {
    let refused = |body: Value| {
        let request: RuleRequest = serde_json::from_value(body).expect("the shape");
        request.settings().expect_err("refused")
    };
    let base = json!({ "name": "r", "kind": "failure_rate", "severity": "critical",
                       "params": { "threshold": 0.05, "window_hours": 24 } });
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    assert!(refused(with("kind", json!("anomaly"))).contains("params of anomaly"));
    assert!(refused(with("kind", json!("nonsense"))).contains("unknown kind"));
    assert!(refused(with("severity", json!("urgent"))).contains("severity"));
    assert!(refused(with("channels", json!(["pager"]))).contains("pager"));
    assert!(
        refused(with(
            "params",
            json!({ "threshold": 2, "window_hours": 24 })
        ))
        .contains("threshold")
    );
    assert!(
        refused(with(
            "params",
            json!({ "threshold": 0.1, "window_hours": 0 })
        ))
        .contains("window_hours")
    );
    assert!(
        refused(with(
            "params",
            json!({ "threshold": 0.1, "window_hours": 24, "x": 1 })
        ))
        .contains("unknown field")
    );
    assert!(refused(with("name", json!("  "))).contains("name"));
    // Windows of years are fine: old reports are replayed.
    let years: RuleRequest = serde_json::from_value(with(
        "params",
        json!({ "threshold": 0.1, "window_hours": 24 * 365 * 15 }),
    ))
    .unwrap();
    assert!(years.settings().is_ok());
}

#[tokio::test]
async fn evaluation_over_the_api_one_alert_per_subject_and_its_lifecycle() {
    for db in testing::databases().await {
        let server = start(db, |_| {}).await;
        server.user("admin@example.com", Role::Admin).await;
        server.user("ana@example.com", Role::Analyst).await;
        let admin = Auth::Bearer(server.tokens("admin@example.com").await.0);
        let analyst = Auth::Bearer(server.tokens("ana@example.com").await.0);
        assert_eq!(
            server.upload(&analyst, &corpus_files()).await.status,
            StatusCode::OK
        );

        // The issue's shape, with a window of years over the corpus (2012-2025).
        let created = server
            .call(
                Method::POST,
                "/alerts/rules",
                &admin,
                Some(
                    json!({"name": "failures", "kind": "failure_rate", "domain": null,
                    "severity": "critical",
                    "params": {"threshold": 0.05, "window_hours": 24 * 365 * 20, "min_messages": 5},
                    "cooldown_minutes": 60, "channels": ["teams", "slack", "discord", "email"],
                    "enabled": true}),
                ),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let rule_id = created.body["id"].as_i64().unwrap();
        let taken = server
            .call(
                Method::POST,
                "/alerts/rules",
                &admin,
                Some(json!({"name": "failures",
                "kind": "missing_reports", "severity": "info", "params": {"hours": 1}})),
            )
            .await;
        assert_eq!(taken.status, StatusCode::CONFLICT);
        let anomaly = server
            .call(
                Method::POST,
                "/alerts/rules",
                &admin,
                Some(json!({"name": "a",
                "kind": "anomaly", "severity": "info", "params": {"min_score": 2}})),
            )
            .await;
        assert_eq!(anomaly.status, StatusCode::BAD_REQUEST);
        assert!(
            anomaly.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("min_score")
        );

        // The corpus's domains whose failure share is above 5 % with at least 5 messages.
        let at = dmarc_store::unix_now();
        let expected: Vec<String> = server
            .store
            .by_domain(&dmarc_core::Filter {
                from: Some(at - 24 * 365 * 20 * HOUR),
                to: Some(at),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|g| g.tally.messages >= 5 && g.tally.dmarc_fail * 20 > g.tally.messages)
            .map(|g| g.key)
            .collect();
        assert!(!expected.is_empty(), "the corpus has failing domains");

        let job = support::run_job(
            &server.state.jobs,
            1,
            dmarc_server::jobs::JobKind::AlertEvaluation,
            JobState::Succeeded,
            Duration::from_secs(60),
        )
        .await;
        let result = job
            .result
            .clone()
            .unwrap_or_else(|| panic!("a summary: {job:?}"));
        assert_eq!(result["created"], expected.len(), "{result}");
        let history = server
            .call(Method::GET, "/alerts/history?state=created", &analyst, None)
            .await;
        let mut subjects: Vec<String> = history.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["subject"].as_str().unwrap().to_owned())
            .collect();
        subjects.sort();
        let mut want = expected.clone();
        want.sort();
        assert_eq!(subjects, want);
        let first = &history.body["items"][0];
        assert_eq!(first["rule_id"], rule_id);
        assert_eq!(first["severity"], "critical");
        assert_eq!(first["fingerprint"].as_str().unwrap().len(), 64);

        // Again within the cooldown: nothing new.
        let again = support::run_job(
            &server.state.jobs,
            1,
            dmarc_server::jobs::JobKind::AlertEvaluation,
            JobState::Succeeded,
            Duration::from_secs(60),
        )
        .await;
        let again = again.result.unwrap();
        assert_eq!(
            (again["created"].as_u64(), again["repeated"].as_u64()),
            (Some(0), Some(expected.len() as u64))
        );

        // Acknowledge, then resolve: who and when; a second acknowledge conflicts.
        let id = first["id"].as_i64().unwrap();
        let acked = server
            .call(
                Method::PATCH,
                &format!("/alerts/{id}/acknowledge"),
                &analyst,
                None,
            )
            .await;
        assert_eq!(acked.status, StatusCode::OK, "{}", acked.body);
        assert_eq!(acked.body["state"], "acknowledged");
        assert_eq!(acked.body["acknowledged_by"], "ana@example.com");
        assert!(acked.body["acknowledged_at"].as_i64().unwrap() >= at);
        let twice = server
            .call(
                Method::PATCH,
                &format!("/alerts/{id}/acknowledge"),
                &analyst,
                None,
            )
            .await;
        assert_eq!(twice.status, StatusCode::CONFLICT);
        let resolved = server
            .call(
                Method::PATCH,
                &format!("/alerts/{id}/resolve"),
                &analyst,
                None,
            )
            .await;
        assert_eq!(resolved.body["state"], "resolved");
        assert_eq!(resolved.body["resolved_by"], "ana@example.com");
        let by_rule = server
            .call(
                Method::GET,
                &format!("/alerts/history?rule={rule_id}&state=resolved"),
                &analyst,
                None,
            )
            .await;
        assert_eq!(by_rule.body["total"], 1);

        // A suppression window for everything; the rule changed so that the domains are
        // found anew (a new rule name does not change fingerprints: a new rule does).
        let window = server
            .call(
                Method::POST,
                "/alerts/suppressions",
                &analyst,
                Some(json!({"ends_at": at + 86_400, "reason": "maintenance"})),
            )
            .await;
        assert_eq!(window.status, StatusCode::CREATED, "{}", window.body);
        let second = server
            .call(
                Method::POST,
                "/alerts/rules",
                &admin,
                Some(json!({"name": "failures 2",
                "kind": "failure_rate", "severity": "warning",
                "params": {"threshold": 0.05, "window_hours": 24 * 365 * 20, "min_messages": 5}})),
            )
            .await;
        assert_eq!(second.status, StatusCode::CREATED);
        let quiet = support::run_job(
            &server.state.jobs,
            1,
            dmarc_server::jobs::JobKind::AlertEvaluation,
            JobState::Succeeded,
            Duration::from_secs(60),
        )
        .await
        .result
        .unwrap();
        assert_eq!(quiet["created"], 0, "{quiet}");
        assert_eq!(quiet["suppressed"], expected.len(), "{quiet}");
        let active = server
            .call(
                Method::GET,
                "/alerts/suppressions?active=true",
                &analyst,
                None,
            )
            .await;
        assert_eq!(active.body.as_array().unwrap().len(), 1);

        // Rules change and go; their alerts stay.
        let off = server
            .call(
                Method::PATCH,
                &format!("/alerts/rules/{rule_id}"),
                &admin,
                Some(json!({"enabled": false})),
            )
            .await;
        assert_eq!(off.body["enabled"], false);
        assert_eq!(off.body["name"], "failures");
        let deleted = server
            .call(
                Method::DELETE,
                &format!("/alerts/rules/{rule_id}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let all = server
            .call(Method::GET, "/alerts/history?limit=1000", &analyst, None)
            .await;
        assert_eq!(all.body["total"], 2 * expected.len());

        // Analytics over the API: half the alerts suppressed, one acknowledged of those
        // sent, one resolved by a person.
        let stats = server
            .call(Method::GET, "/alerts/analytics", &analyst, None)
            .await;
        assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
        let n = expected.len() as f64;
        assert_eq!(stats.body["total"], 2 * expected.len());
        assert_eq!(stats.body["acknowledged_share"], 1.0 / n);
        let states = &stats.body["by_state"];
        let of = |key: &str| {
            states
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["key"] == key)
                .map_or(0, |c| c["count"].as_u64().unwrap())
        };
        assert_eq!(of("suppressed"), expected.len() as u64);
        assert_eq!(of("resolved"), 1);
        assert_eq!(of("created"), expected.len() as u64 - 1);
        let rules: Vec<&str> = stats.body["by_rule"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["key"].as_str().unwrap())
            .collect();
        assert_eq!(rules.len(), 2, "{rules:?}");
    }
}

#[tokio::test]
async fn new_reports_queue_one_evaluation_a_minute_later_and_a_trigger_brings_it_forward() {
    let server = sqlite_server().await;
    server.user("ana@example.com", Role::Analyst).await;
    let analyst = Auth::Bearer(server.tokens("ana@example.com").await.0);
    let queued = || async {
        server
            .store
            .jobs(
                &dmarc_store::JobFilter {
                    kind: Some("alert-evaluation".into()),
                    state: Some(JobState::Queued),
                },
                dmarc_store::Page::first(10),
            )
            .await
            .unwrap()
    };
    assert_eq!(queued().await.total, 0);
    let before = dmarc_server::jobs::now_ms();
    assert_eq!(
        server.upload(&analyst, &[one_report()]).await.status,
        StatusCode::OK
    );
    let jobs = queued().await;
    assert_eq!(jobs.total, 1);
    let job = &jobs.items[0];
    assert_eq!(job.created_by.as_deref(), Some("ingest"));
    assert!(job.run_at >= before + dmarc_server::ingest::EVALUATION_DELAY_MS);
    // More reports within the minute share it; a duplicate upload queues nothing either.
    server.upload(&analyst, &corpus_files()[..3]).await;
    server.upload(&analyst, &[one_report()]).await;
    assert_eq!(queued().await.total, 1);
    // Asked for now: the same job, due now.
    let triggered = server
        .call(
            Method::POST,
            "/tasks/trigger/alert-evaluation",
            &analyst,
            None,
        )
        .await;
    assert_eq!(triggered.status, StatusCode::ACCEPTED);
    assert_eq!(triggered.body["task_id"], job.id);
    assert!(triggered.body["run_at"].as_i64().unwrap() * 1000 <= dmarc_server::jobs::now_ms());
}
