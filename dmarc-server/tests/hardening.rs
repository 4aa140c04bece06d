//! The hardening issue's rows over the HTTP API: reports with impossible dates, expensive
//! reads (time limit, requests in flight per user), and the small rows (locking out,
//! errors in the JSON shape, request ids, ...). The server runs in this process over a real
//! SQLite file.

mod support;

use std::path::PathBuf;

use dmarc_store::Role;
use reqwest::{Method, StatusCode};
use support::server::*;
use support::{dated_report, regression};

/// Writes `bytes` as a file in `dir` and gives its path.
fn file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

/// A generated report of `records` records, gzip-compressed.
fn generated(records: usize, seed: u64) -> Vec<u8> {
    let report = dmarc_benches::Generator::new(seed).report(
        dmarc_benches::Reporter::Microsoft,
        "example.com",
        1_700_006_400,
        records,
    );
    dmarc_benches::gzip(report.xml.as_bytes())
}

/// Every read endpoint a viewer or analyst can call, with and without a period.
const READS: &[&str] = &[
    "/api/domains",
    "/api/reports",
    "/api/sources",
    "/api/rollup/summary",
    "/api/rollup/sources",
    "/api/rollup/by-domain",
    "/api/rollup/organizations",
    "/api/rollup/disposition",
    "/api/rollup/alignment",
    "/api/rollup/compliance",
    "/api/rollup/enforcement",
    "/api/rollup/timeline",
    "/api/rollup/failure-trend",
    "/api/export/reports/csv",
    "/api/export/records/csv",
    "/api/export/sources/csv",
    "/api/export/report/pdf",
];

#[tokio::test]
async fn future_dates_are_refused_and_every_endpoint_keeps_answering_small() {
    let server = start(dmarc_store::testing::sqlite(), |c| {
        c.limits.csv_exports_per_minute = 1000;
        c.limits.pdf_exports_per_minute = 1000;
    })
    .await;
    server.user("analyst@example.com", Role::Analyst).await;
    let access = Auth::Bearer(server.tokens("analyst@example.com").await.0);
    let dir = tempfile::tempdir().expect("dir");
    let year_5138 = dated_report("y5138", "99999000000", "99999086400");
    let milliseconds = dated_report("ms", "1700100000000", "1700186399000");
    let files = [
        regression("normal.xml"),
        regression("huge9e18.xml"),
        regression("min_a.xml"),
        regression("min_b.xml"),
        file(&dir, "y5138.xml", year_5138.as_bytes()),
        file(&dir, "ms.xml", milliseconds.as_bytes()),
    ];
    let upload = server.upload(&access, &files).await;
    assert_eq!(upload.status, StatusCode::OK, "{}", upload.body);
    let outcome = |i: usize| &upload.body["files"][i]["outcomes"][0];
    for (i, want) in [(0, "accepted"), (5, "accepted")] {
        assert_eq!(outcome(i)["outcome"], want, "{}", upload.body);
    }
    for i in 1..=4 {
        assert_eq!(outcome(i)["outcome"], "rejected", "{}", upload.body);
        assert_eq!(outcome(i)["error"]["kind"], "invalid_date_range");
    }
    for path in READS {
        for query in ["", "?preset=all", "?from=2023-11-01&to=2023-11-30"] {
            let (status, body) = server.get_bytes(&format!("{path}{query}"), &access).await;
            assert_eq!(status, StatusCode::OK, "{path}{query}");
            assert!(
                body.len() < 64 * 1024,
                "{path}{query}: {} bytes",
                body.len()
            );
        }
    }
    let days = server
        .call(Method::GET, "/api/rollup/timeline", &access, None)
        .await;
    assert_eq!(days.body.as_array().map(Vec::len), Some(2), "{}", days.body);
}

#[tokio::test]
async fn expensive_reads_stop_at_the_time_limit_with_503() {
    let server = start(dmarc_store::testing::sqlite(), |c| {
        c.limits.query_timeout_ms = 1;
    })
    .await;
    server.user("viewer@example.com", Role::Viewer).await;
    server.user("analyst@example.com", Role::Analyst).await;
    let analyst = Auth::Bearer(server.tokens("analyst@example.com").await.0);
    let dir = tempfile::tempdir().expect("dir");
    let big = file(&dir, "big.xml.gz", &generated(40_000, 3));
    let upload = server.upload(&analyst, &[big]).await;
    assert_eq!(upload.body["summary"]["records"], 40_000, "{}", upload.body);
    let viewer = Auth::Bearer(server.tokens("viewer@example.com").await.0);
    let stopped = server
        .call(
            Method::GET,
            "/api/rollup/summary?source_ip=0.0.0.0/0",
            &viewer,
            None,
        )
        .await;
    assert_eq!(stopped.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(stopped.body["error"]["code"], "timeout", "{}", stopped.body);
}

#[tokio::test]
async fn a_user_has_a_bounded_number_of_expensive_reads_in_flight() {
    let server = start(dmarc_store::testing::sqlite(), |c| {
        c.limits.heavy_reads_per_user = 1;
    })
    .await;
    server.user("analyst@example.com", Role::Analyst).await;
    server.user("other@example.com", Role::Viewer).await;
    let analyst = Auth::Bearer(server.tokens("analyst@example.com").await.0);
    let other = Auth::Bearer(server.tokens("other@example.com").await.0);
    let dir = tempfile::tempdir().expect("dir");
    let big = [
        file(&dir, "big1.xml.gz", &generated(80_000, 4)),
        file(&dir, "big2.xml.gz", &generated(80_000, 5)),
    ];
    let upload = server.upload(&analyst, &big).await;
    assert_eq!(
        upload.body["summary"]["records"], 160_000,
        "{}",
        upload.body
    );
    // A records export of ~25 MB, not read: it stays in flight (the socket is full).
    let export = server
        .http
        .get(format!("{}/api/export/records/csv", server.base))
        .bearer_auth(match &analyst {
            Auth::Bearer(token) => token.clone(),
            _ => unreachable!(),
        })
        .send()
        .await
        .expect("export");
    assert_eq!(export.status(), StatusCode::OK);
    let busy = server
        .call(Method::GET, "/api/rollup/summary", &analyst, None)
        .await;
    assert_eq!(busy.status, StatusCode::TOO_MANY_REQUESTS, "{}", busy.body);
    assert_eq!(busy.headers["retry-after"], "1");
    // Others are not held up; cheap reads are not counted.
    let theirs = server
        .call(Method::GET, "/api/rollup/summary", &other, None)
        .await;
    assert_eq!(theirs.status, StatusCode::OK);
    let domains = server
        .call(Method::GET, "/api/domains", &analyst, None)
        .await;
    assert_eq!(domains.status, StatusCode::OK);
    // An answer from the cache (the other user's) is not an expensive read; one to
    // compute still is.
    let cached = server
        .call(Method::GET, "/api/rollup/summary", &analyst, None)
        .await;
    assert_eq!(cached.status, StatusCode::OK, "{}", cached.body);
    let computed = server
        .call(Method::GET, "/api/rollup/timeline", &analyst, None)
        .await;
    assert_eq!(
        computed.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        computed.body
    );
    // Once the export is gone, the next read runs.
    drop(export);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let again = server
            .call(Method::GET, "/api/rollup/timeline", &analyst, None)
            .await;
        if again.status == StatusCode::OK {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", again.body);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A login from `client` (as `X-Forwarded-For`, trusted here), with `cookie` if given:
/// the status and the `Set-Cookie` value.
async fn login_from(
    server: &Server,
    client: &str,
    email: &str,
    password: &str,
    cookie: Option<&str>,
) -> (StatusCode, Option<String>) {
    let mut request = server
        .http
        .post(format!("{}/auth/login", server.base))
        .header("X-Forwarded-For", client)
        .json(&serde_json::json!({ "email": email, "password": password }));
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    let response = request.send().await.expect("login");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned());
    (response.status(), cookie)
}

#[tokio::test]
async fn a_stranger_cannot_lock_the_owner_out() {
    let server = start(dmarc_store::testing::sqlite(), |c| {
        c.trust_forwarded_for = true;
        c.auth.login_failures_per_hour_per_account = 15;
    })
    .await;
    server.user("viewer@example.com", Role::Viewer).await;
    let viewer = "viewer@example.com";
    // The owner signed in once from their browser: it keeps a device cookie.
    let (status, device) = login_from(&server, "198.51.100.7", viewer, PASSWORD, None).await;
    assert_eq!(status, StatusCode::OK);
    let device = device.expect("a device cookie");
    assert!(device.starts_with("dmarc_device="), "{device}");

    // Ten wrong passwords from one client: that client is held back, nobody else.
    for _ in 0..10 {
        let (status, _) = login_from(&server, "127.0.0.20", viewer, "guess guess!", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = login_from(&server, "127.0.0.20", viewer, PASSWORD, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the guesser waits");
    let (status, _) = login_from(&server, "127.0.0.21", viewer, PASSWORD, None).await;
    assert_eq!(status, StatusCode::OK, "the owner signs in from elsewhere");

    // Guessing from many clients: the account's budget (15 failures an hour, 10 spent
    // above) runs out for new browsers, but not for the owner's.
    for i in 0..5 {
        let client = format!("203.0.113.{i}");
        let (status, _) = login_from(&server, &client, viewer, "guess guess!", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = login_from(&server, "203.0.113.99", viewer, PASSWORD, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "a new browser waits");
    let (status, _) = login_from(&server, "203.0.113.98", viewer, PASSWORD, Some(&device)).await;
    assert_eq!(status, StatusCode::OK, "the owner's browser does not");
    // Another account's cookie does not count for this one.
    server.user("other@example.com", Role::Viewer).await;
    let (_, other) = login_from(&server, "198.51.100.8", "other@example.com", PASSWORD, None).await;
    let (status, _) = login_from(&server, "203.0.113.97", viewer, PASSWORD, other.as_deref()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

/// A raw request: status, headers and body text.
async fn raw(
    server: &Server,
    request: reqwest::RequestBuilder,
) -> (StatusCode, reqwest::header::HeaderMap, serde_json::Value) {
    let _ = server;
    let response = request.send().await.expect("send");
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.text().await.expect("body");
    let json = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body:?}"));
    (status, headers, json)
}

#[tokio::test]
async fn every_error_is_json_and_request_ids_are_checked() {
    let server = start(dmarc_store::testing::sqlite(), |c| {
        c.limits.json_max_bytes = 1024;
    })
    .await;
    server.user("admin@example.com", Role::Admin).await;
    let token = server.tokens("admin@example.com").await.0;
    let url = |path: &str| format!("{}{path}", server.base);
    let http = &server.http;
    let cases = [
        // A JSON body over the limit, malformed, of the wrong shape, with unknown fields.
        (
            http.post(url("/users/api-keys"))
                .bearer_auth(&token)
                .json(&serde_json::json!({ "name": "x".repeat(2000) })),
            413,
            "payload_too_large",
        ),
        (
            http.post(url("/auth/login"))
                .header("content-type", "application/json")
                .body("{not json"),
            400,
            "bad_request",
        ),
        (
            http.post(url("/auth/login"))
                .json(&serde_json::json!({ "email": 5, "password": "x" })),
            400,
            "bad_request",
        ),
        (
            http.post(url("/users/me/password"))
                .bearer_auth(&token)
                .json(&serde_json::json!({
                    "current_password": PASSWORD,
                    "new_password": "another long password",
                    "role": "admin"
                })),
            400,
            "bad_request",
        ),
        (
            http.post(url("/auth/login")).body("email=a&password=b"),
            415,
            "unsupported_media_type",
        ),
        // A path parameter that is not a number, a method the path does not take.
        (
            http.patch(url("/users/abc"))
                .bearer_auth(&token)
                .json(&serde_json::json!({ "disabled": true })),
            400,
            "bad_request",
        ),
        (
            http.delete(url("/api/domains")).bearer_auth(&token),
            405,
            "method_not_allowed",
        ),
        // An upload that is not multipart.
        (
            http.post(url("/api/upload"))
                .bearer_auth(&token)
                .body("not a form"),
            400,
            "bad_request",
        ),
        (http.get(url("/no/such/thing")), 404, "not_found"),
    ];
    for (request, status, code) in cases {
        let (got, headers, body) = raw(&server, request).await;
        assert_eq!(
            (got.as_u16(), body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        if status == 405 {
            assert!(headers.contains_key("allow"), "405 says what is allowed");
        }
    }
    // Unknown fields are refused, so the password did not change.
    assert_eq!(
        server.login("admin@example.com", PASSWORD).await.status,
        StatusCode::OK
    );

    // Request ids: a short token is kept, anything else replaced.
    let id_of = |value: &'static str| {
        let request = http.get(url("/health")).header("x-request-id", value);
        async move {
            let response = request.send().await.expect("health");
            response.headers()["x-request-id"]
                .to_str()
                .expect("id")
                .to_owned()
        }
    };
    assert_eq!(id_of("trace-42.a_b").await, "trace-42.a_b");
    for bad in ["abc<script>", "a b", "x;y=\"z\""] {
        let id = id_of(bad).await;
        assert_ne!(id, bad);
        assert!(
            id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "{id}"
        );
    }
    let long = "a".repeat(65);
    let response = http
        .get(url("/health"))
        .header("x-request-id", &long)
        .send()
        .await
        .expect("health");
    assert_ne!(response.headers()["x-request-id"], long.as_str());
}

#[tokio::test]
async fn hsts_is_sent_when_tls_is_in_front() {
    for (tls, sent) in [(false, false), (true, true)] {
        let server = start(dmarc_store::testing::sqlite(), |c| c.tls_in_front = tls).await;
        let response = server
            .http
            .get(format!("{}/health", server.base))
            .send()
            .await
            .expect("health");
        assert_eq!(
            response.headers().contains_key("strict-transport-security"),
            sent
        );
    }
}

#[tokio::test]
async fn disabling_a_user_revokes_their_api_keys() {
    let server = start(dmarc_store::testing::sqlite(), |_| {}).await;
    server.user("admin@example.com", Role::Admin).await;
    let worker = server.user("worker@example.com", Role::Analyst).await;
    let admin = Auth::Bearer(server.tokens("admin@example.com").await.0);
    let own = Auth::Bearer(server.tokens("worker@example.com").await.0);
    let created = server
        .call(
            Method::POST,
            "/users/api-keys",
            &own,
            Some(serde_json::json!({ "name": "cron" })),
        )
        .await;
    let key = Auth::Key(created.body["key"].as_str().expect("key").to_owned());
    let reports = |auth: Auth| {
        let server = &server;
        async move {
            server
                .call(Method::GET, "/api/reports", &auth, None)
                .await
                .status
        }
    };
    assert_eq!(reports(key.clone()).await, StatusCode::OK);
    for disabled in [true, false] {
        let patch = server
            .call(
                Method::PATCH,
                &format!("/users/{worker}"),
                &admin,
                Some(serde_json::json!({ "disabled": disabled })),
            )
            .await;
        assert_eq!(patch.status, StatusCode::OK, "{}", patch.body);
    }
    // Enabled again, but the key issued before stays dead.
    assert_eq!(reports(key).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn triggers_do_not_pile_up_jobs() {
    let server = start(dmarc_store::testing::sqlite(), |_| {}).await;
    server.user("analyst@example.com", Role::Analyst).await;
    let analyst = Auth::Bearer(server.tokens("analyst@example.com").await.0);
    let mut ids = std::collections::HashSet::new();
    for _ in 0..30 {
        let task = server
            .call(
                Method::POST,
                "/tasks/trigger/process-reports",
                &analyst,
                None,
            )
            .await;
        assert_eq!(task.status, StatusCode::ACCEPTED, "{}", task.body);
        ids.insert(task.body["task_id"].as_i64().expect("task_id"));
    }
    assert_eq!(ids.len(), 1, "one job, answered 30 times");
    let queued = server
        .call(Method::GET, "/tasks?state=queued", &analyst, None)
        .await;
    assert_eq!(queued.body["total"], 1, "{}", queued.body);
}

/// Concurrent requests for an answer not in the cache compute it once: the others wait
/// for it and answer from the cache (no second computation, no "too many requests").
#[tokio::test]
async fn concurrent_misses_of_one_answer_compute_it_once() {
    let server = start(dmarc_store::testing::sqlite(), |_| {}).await;
    server.user("admin@example.com", Role::Admin).await;
    let access = Auth::Bearer(server.tokens("admin@example.com").await.0);
    let answers = futures_util::future::join_all(
        (0..8).map(|_| server.call(Method::GET, "/api/rollup/compliance", &access, None)),
    )
    .await;
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body, answers[0].body);
    }
    let (_, metrics) = server.get_bytes("/metrics", &access).await;
    let text = String::from_utf8_lossy(&metrics);
    assert!(
        text.contains("dmarc_rollup_cache_total{result=\"miss\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("dmarc_rollup_cache_total{result=\"hit\"} 7"),
        "{text}"
    );
}

/// Rollup answers come from the cache until the data changes, even when another process
/// (another connection to the database) changes it.
#[tokio::test]
async fn cached_rollups_are_never_stale() {
    let db = dmarc_store::testing::sqlite();
    let url = db.url.clone();
    let server = start(db, |_| {}).await;
    server.user("admin@example.com", Role::Admin).await;
    let access = Auth::Bearer(server.tokens("admin@example.com").await.0);
    let summary = || server.call(Method::GET, "/api/rollup/summary", &access, None);
    let first = summary().await;
    assert_eq!(first.body["messages"], 0, "{}", first.body);
    assert_eq!(summary().await.body, first.body);
    // Another process stores a report.
    let other = dmarc_store::Store::connect(&url).await.expect("connect");
    let xml = dated_report("cache", "1700000000", "1700086399");
    let options = dmarc_core::ParseOptions::at(dmarc_store::unix_now());
    let done = other
        .ingest(&[dmarc_store::prepare("cache.xml", xml.as_bytes(), &options)])
        .await
        .expect("ingest");
    assert_eq!(done[0][0].outcome, dmarc_store::OutcomeStatus::Accepted);
    let fresh = summary().await;
    assert!(
        fresh.body["messages"].as_u64().unwrap() > 0,
        "{}",
        fresh.body
    );
    let (_, metrics) = server.get_bytes("/metrics", &access).await;
    let text = String::from_utf8_lossy(&metrics);
    assert!(
        text.contains("dmarc_rollup_cache_total{result=\"hit\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("dmarc_rollup_cache_total{result=\"miss\"} 2"),
        "{text}"
    );
}
