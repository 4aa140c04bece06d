//! Anomaly detection end to end over the API, on SQLite and PostgreSQL: 38 days of
//! generated reports with a spoofing campaign injected on the last 2; train, deploy,
//! detect; the campaign's addresses are the top of `GET /analytics/anomalies/recent`.

mod support;

use std::time::Duration;

use dmarc_store::{Input, JobState, Role, testing};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::server::{Auth, Server, start};
use support::wait_for_job;

const DAY: i64 = 86_400;
const SPOOFERS: usize = 8;

/// Generated reports over the 38 days before today (5 domains) and the campaign on the last
/// 2 days, ingested through the server's ingestion (so placed by geolocation).
async fn load(server: &Server) -> Vec<String> {
    let today = dmarc_store::unix_now() / DAY * DAY;
    let first = today - 38 * DAY;
    let mut generator = dmarc_benches::Generator::new(5);
    let mut reports = generator.batch(450, 5, first, 24_000);
    let spoofers = dmarc_benches::spoofer_addresses(SPOOFERS);
    reports.extend(generator.spoofing_campaign(
        "domain0.example",
        &spoofers,
        today - 2 * DAY,
        2,
        600,
        3,
    ));
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let feed = async move {
        for (i, report) in reports.into_iter().enumerate() {
            let input = Input {
                name: format!("r{i}.xml"),
                bytes: Ok(report.xml.into_bytes()),
            };
            sender.send(input).await.expect("send");
        }
    };
    let mut accepted = 0;
    let ingest = server.state.jobs.ingest.run(receiver, |done| {
        accepted += done
            .outcomes
            .iter()
            .filter(|o| o.outcome == dmarc_store::OutcomeStatus::Accepted)
            .count();
    });
    let ((), result) = tokio::join!(feed, ingest);
    result.expect("ingest");
    assert!(accepted > 450, "{accepted} reports accepted");
    spoofers
}

async fn finished(server: &Server, task: &Value) -> Value {
    let id = task["task_id"].as_i64().expect("a task id");
    let job = wait_for_job(
        &server.store,
        id,
        JobState::Succeeded,
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    job.result.expect("a result")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_deploy_detect_puts_the_injected_spoofers_on_top() {
    for db in testing::databases().await {
        let server = start(db, |_| {}).await;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let workers = server.state.jobs.spawn_workers(1, &stopped);
        server.user("admin@example.com", Role::Admin).await;
        server.user("ana@example.com", Role::Analyst).await;
        server.user("vic@example.com", Role::Viewer).await;
        let admin = Auth::Bearer(server.tokens("admin@example.com").await.0);
        let analyst = Auth::Bearer(server.tokens("ana@example.com").await.0);
        let viewer = Auth::Bearer(server.tokens("vic@example.com").await.0);
        let spoofers = load(&server).await;

        // No model yet: detection has nothing to score with.
        let early = server
            .call(
                Method::POST,
                "/analytics/anomalies/detect",
                &analyst,
                Some(json!({})),
            )
            .await;
        assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);

        // Train (admin only), twice with the same seed: the same forest.
        for auth in [&analyst, &viewer] {
            let refused = server
                .call(Method::POST, "/analytics/ml/train", auth, Some(json!({})))
                .await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN);
        }
        let bad = server
            .call(
                Method::POST,
                "/analytics/ml/train",
                &admin,
                Some(json!({ "trees": 0 })),
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
        let mut models = Vec::new();
        for _ in 0..2 {
            let task = server
                .call(
                    Method::POST,
                    "/analytics/ml/train",
                    &admin,
                    Some(json!({ "days": 40, "seed": 7 })),
                )
                .await;
            assert_eq!(task.status, StatusCode::ACCEPTED, "{}", task.body);
            models.push(finished(&server, &task.body).await);
        }
        assert_eq!(
            (models[0]["version"].as_i64(), models[1]["version"].as_i64()),
            (Some(1), Some(2))
        );
        let sources = models[0]["sources"].as_i64().expect("sources");
        assert!(sources > 1_000, "{sources} sources");
        assert_eq!(models[0]["params"]["seed"], 7);
        assert_eq!(models[0]["params"]["trees"], 100);
        assert_eq!(
            models[0]["stats"]["features"].as_array().map(Vec::len),
            Some(12)
        );
        assert!(models[0]["metrics"]["score_p99"].as_f64().is_some());
        let (_, first) = server.store.model(1).await.expect("read").expect("model 1");
        let (_, second) = server.store.model(2).await.expect("read").expect("model 2");
        assert!(
            first == second,
            "the same data and seed give the same forest bytes"
        );
        let listed = server
            .call(Method::GET, "/analytics/ml/models", &viewer, None)
            .await;
        assert_eq!(listed.body["total"], 2);
        assert!(
            listed.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .all(|m| m["active"] == false)
        );

        // Deploy (admin only).
        let refused = server
            .call(
                Method::POST,
                "/analytics/ml/deploy",
                &analyst,
                Some(json!({ "version": 1 })),
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let missing = server
            .call(
                Method::POST,
                "/analytics/ml/deploy",
                &admin,
                Some(json!({ "version": 99 })),
            )
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let deployed = server
            .call(
                Method::POST,
                "/analytics/ml/deploy",
                &admin,
                Some(json!({ "version": 1 })),
            )
            .await;
        assert_eq!(deployed.status, StatusCode::OK, "{}", deployed.body);
        assert_eq!(deployed.body["active"], true);

        // Detect (analyst), then the recent anomalies.
        let refused = server
            .call(
                Method::POST,
                "/analytics/anomalies/detect",
                &viewer,
                Some(json!({})),
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let task = server
            .call(
                Method::POST,
                "/analytics/anomalies/detect",
                &analyst,
                Some(json!({ "days": 40 })),
            )
            .await;
        assert_eq!(task.status, StatusCode::ACCEPTED, "{}", task.body);
        let detection = finished(&server, &task.body).await;
        assert_eq!(detection["model_version"], 1);
        let recent = server
            .call(
                Method::GET,
                &format!("/analytics/anomalies/recent?limit={SPOOFERS}"),
                &viewer,
                None,
            )
            .await;
        assert_eq!(recent.status, StatusCode::OK, "{}", recent.body);
        let top: Vec<&Value> = recent.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .collect();
        let mut addresses: Vec<&str> = top
            .iter()
            .map(|p| p["source_ip"].as_str().expect("address"))
            .collect();
        addresses.sort();
        let mut expected: Vec<&str> = spoofers.iter().map(String::as_str).collect();
        expected.sort();
        assert_eq!(
            addresses, expected,
            "the injected sources are the top: {}",
            recent.body
        );
        for p in &top {
            assert_eq!(p["anomalous"], true, "{p}");
            let reasons: Vec<&str> = p["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert!(
                reasons.iter().any(|r| r.starts_with("volume ")),
                "{reasons:?}"
            );
            assert_eq!(p["dmarc_fail"], p["messages"]);
            assert_eq!(p["model_version"], 1);
            assert_eq!(p["features"].as_array().map(Vec::len), Some(12));
            // Placed at ingest by the bundled data.
            assert!(p["location"]["asn"].as_u64().is_some(), "{p}");
        }
        let scores: Vec<f64> = top.iter().filter_map(|p| p["score"].as_f64()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        let one = server
            .call(
                Method::GET,
                &format!(
                    "/analytics/anomalies/recent?source_ip={}&since=2000-01-01",
                    spoofers[0]
                ),
                &viewer,
                None,
            )
            .await;
        assert_eq!(one.body["total"], 1, "{}", one.body);
        let bad = server
            .call(
                Method::GET,
                "/analytics/anomalies/recent?min_score=2",
                &viewer,
                None,
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);

        // An anomaly rule fires for every anomalous source of the run (the campaign's
        // among them), and for none above their scores.
        let anomalous = detection["anomalous"].as_u64().expect("anomalous") as usize;
        assert!(
            (SPOOFERS..=SPOOFERS * 10).contains(&anomalous),
            "the threshold keeps about 0.5 % of the sources: {detection}"
        );
        let at = dmarc_store::unix_now();
        for (name, min_score, expected) in [("anomalies", 0.0, anomalous), ("none", 0.999, 0)] {
            let rule = server
                .call(
                    Method::POST,
                    "/alerts/rules",
                    &admin,
                    Some(
                        json!({ "name": name, "kind": "anomaly", "severity": "warning",
                                 "params": { "window_hours": 2, "min_score": min_score } }),
                    ),
                )
                .await;
            assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);
            let rule: dmarc_store::AlertRule = serde_json::from_value(rule.body).expect("a rule");
            let found = dmarc_server::alerts::evaluate(&server.store, &rule, at)
                .await
                .expect("evaluated");
            assert_eq!(found.len(), expected, "{name}");
            let subjects: Vec<&str> = found
                .iter()
                .filter_map(|f| f.detail["source_ip"].as_str())
                .collect();
            for spoofer in spoofers.iter().take(expected.min(SPOOFERS)) {
                assert!(subjects.contains(&spoofer.as_str()), "{spoofer} fires");
            }
            assert!(
                found
                    .iter()
                    .all(|f| f.domain.is_none() && f.summary.contains("anomaly score"))
            );
        }

        // Every change is in the audit log.
        let audit = server
            .call(Method::GET, "/audit?limit=20", &admin, None)
            .await;
        let log = audit.body.to_string();
        for action in ["ml.train", "ml.deploy", "anomaly.detect"] {
            assert!(log.contains(action), "{action} is audited");
        }
        let _ = stop.send(true);
        for worker in workers {
            worker.await.expect("a worker ends");
        }
    }
}
