//! Alerts leaving the server, against real receivers: an HTTP server capturing the Teams,
//! Slack and Discord webhooks, and an SMTP server (aiosmtpd, STARTTLS with a test CA,
//! login required) receiving the e-mails. End to end on both backends: corpus reports with
//! failures -> evaluation -> one alert per subject -> Teams first, then Slack, Discord and
//! e-mail, a 500 and a 451 retried and delivered once; nothing again inside the cooldown; a
//! suppression window stops delivery; auto-resolve when the condition clears. Then the
//! channel test endpoint, and the digest: rendered for the corpus, received by the SMTP
//! server, its figures equal to the rollups.
//!
//! The suite stays whole in one file: every file under `tests/` is a test binary of its
//! own, linked against the whole crate graph, so one suite per subject keeps builds short.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dmarc_server::config::Config;
use dmarc_server::jobs::JobKind;
use dmarc_store::{JobFilter, JobState, Page, Role, Store, testing};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::server::*;
use support::smtp::SmtpSink;

/// What the webhook receiver got: channel, JSON body, arrival (UTC seconds).
type Seen = Arc<Mutex<Vec<(String, Value, f64)>>>;

fn epoch_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A webhook receiver on 127.0.0.1: it keeps every request in arrival order and answers
/// 500 to the first `fail_first` requests on `/slack`, 200 otherwise.
async fn receiver(fail_first: usize) -> (String, Seen) {
    use axum::extract::{Path, State};
    use axum::http::StatusCode as Status;
    let seen: Seen = Default::default();
    let app = axum::Router::new()
        .route(
            "/{channel}",
            axum::routing::post(
                move |State(seen): State<Seen>,
                      Path(channel): Path<String>,
                      axum::Json(body): axum::Json<Value>| async move {
                    let mut seen = seen.lock().expect("the requests");
                    let earlier = seen.iter().filter(|(c, _, _)| *c == channel).count();
                    seen.push((channel.clone(), body, epoch_seconds()));
                    if channel == "slack" && earlier < fail_first {
                        Status::INTERNAL_SERVER_ERROR
                    } else {
                        Status::OK
                    }
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("its address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, seen)
}

/// Every channel configured: the webhooks at `base`, e-mail through `sink`.
fn channels(base: &str, sink: &SmtpSink) -> impl FnOnce(&mut Config) {
    let (base, url, ca) = (
        base.to_owned(),
        sink.url(),
        sink.ca_file.display().to_string(),
    );
    move |c: &mut Config| {
        c.alerts.teams_webhook_url.0 = format!("{base}/teams");
        c.alerts.slack_webhook_url.0 = format!("{base}/slack");
        c.alerts.discord_webhook_url.0 = format!("{base}/discord");
        c.alerts.smtp_url.0 = url;
        c.alerts.smtp_ca_file = ca;
        c.alerts.email_from = "dmarc@example.com".into();
        c.alerts.email_to = "oncall@example.com, sec@example.com".into();
        c.alerts.digest_to = "weekly@example.com".into();
        c.jobs.retry_backoff_ms = 50;
    }
}

/// The alert a message is about (its `#id` fact).
fn alert_of(text: &str) -> i64 {
    let at = text.find('#').expect("an alert id");
    text[at + 1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a number")
}

/// Waits until no alert delivery is queued or running.
async fn deliveries_done(store: &Store) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut busy = 0;
        for state in [JobState::Queued, JobState::Running] {
            let filter = JobFilter {
                state: Some(state),
                kind: Some("alert-delivery".into()),
            };
            busy += store
                .jobs(&filter, Page::first(1))
                .await
                .expect("the jobs")
                .total;
        }
        if busy == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{busy} deliveries still pending");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs an evaluation with the workers already running; its summary.
async fn evaluate(server: &Server) -> Value {
    let job = server
        .state
        .jobs
        .enqueue(JobKind::AlertEvaluation, "test")
        .await
        .expect("queued");
    let done = support::wait_for_job(
        &server.store,
        job.id,
        JobState::Succeeded,
        Duration::from_secs(60),
    )
    .await;
    deliveries_done(&server.store).await;
    done.result
        .clone()
        .unwrap_or_else(|| panic!("an evaluation summary: {done:?}"))
}

#[tokio::test]
async fn end_to_end_teams_first_then_slack_discord_and_email_on_both_backends() {
    for db in testing::databases().await {
        let Some(sink) = SmtpSink::start(1) else {
            return;
        };
        let (base, seen) = receiver(1).await;
        let server = start(db, channels(&base, &sink)).await;
        server.user("admin@example.com", Role::Admin).await;
        server.user("ana@example.com", Role::Analyst).await;
        let admin = Auth::Bearer(server.tokens("admin@example.com").await.0);
        let analyst = Auth::Bearer(server.tokens("ana@example.com").await.0);
        assert_eq!(
            server.upload(&analyst, &corpus_files()).await.status,
            StatusCode::OK
        );
        let created = server
            .call(
                Method::POST,
                "/alerts/rules",
                &admin,
                Some(
                    json!({"name": "failures", "kind": "failure_rate", "domain": null,
                    "severity": "critical",
                    "params": {"threshold": 0.05, "window_hours": 24 * 365 * 20, "min_messages": 5},
                    "cooldown_minutes": 60, "auto_resolve_minutes": 0,
                    "channels": ["slack", "email", "discord", "teams"], "enabled": true}),
                ),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let rule_id = created.body["id"].as_i64().unwrap();

        let (stop, stopped) = tokio::sync::watch::channel(false);
        let workers = server.state.jobs.spawn_workers(2, &stopped);
        let first = evaluate(&server).await;
        let alerts = first["created"].as_u64().unwrap() as usize;
        assert!(alerts > 1, "{first}");
        let history = server
            .call(
                Method::GET,
                "/alerts/history?state=created&limit=1000",
                &analyst,
                None,
            )
            .await;
        let subjects: Vec<&str> = history.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["subject"].as_str().unwrap())
            .collect();
        let mut unique = subjects.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((subjects.len(), unique.len()), (alerts, alerts));

        // Every alert reached the four channels; Slack's first request (500) and the first
        // e-mail (451) were tried again.
        let mails = sink.wait_for(alerts, Duration::from_secs(30)).await;
        let hooks = seen.lock().unwrap().clone();
        assert_eq!(hooks.len(), 3 * alerts + 1, "{hooks:?}");
        assert_eq!(mails.len(), alerts);
        // Teams came first for every alert, before the other webhooks and the e-mail.
        let mut teams_at: HashMap<i64, f64> = HashMap::new();
        let mut others_at: HashMap<i64, f64> = HashMap::new();
        for (channel, body, at) in &hooks {
            let id = alert_of(&body.to_string());
            let slot = if channel == "teams" {
                &mut teams_at
            } else {
                &mut others_at
            };
            let earliest = slot.entry(id).or_insert(*at);
            *earliest = earliest.min(*at);
        }
        for mail in &mails {
            let id = alert_of(&mail.text);
            let at = mail.envelope["received_at"].as_f64().unwrap();
            let earliest = others_at.entry(id).or_insert(at);
            *earliest = earliest.min(at);
        }
        assert_eq!(teams_at.len(), alerts);
        for (id, teams) in &teams_at {
            assert!(
                *teams <= others_at[id],
                "alert {id}: Teams at {teams}, another channel at {}",
                others_at[id]
            );
        }
        // Each service's shape.
        let body = |name: &str| {
            hooks
                .iter()
                .find(|(c, _, _)| c == name)
                .map(|(_, b, _)| b.clone())
                .unwrap()
        };
        let card = &body("teams")["attachments"][0];
        assert_eq!(
            card["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(card["content"]["type"], "AdaptiveCard");
        assert_eq!(body("slack")["blocks"][0]["type"], "header");
        assert_eq!(body("discord")["allowed_mentions"]["parse"], json!([]));
        // The e-mails: over STARTTLS with the login, to both recipients, text and HTML.
        let mail = &mails[0];
        assert_eq!(mail.envelope["tls"], true, "{:?}", mail.envelope);
        assert_eq!(mail.envelope["login"], support::smtp::USER);
        assert_eq!(mail.envelope["mail_from"], "dmarc@example.com");
        assert_eq!(
            mail.to,
            vec!["oncall@example.com".to_owned(), "sec@example.com".into()]
        );
        assert!(
            mail.subject.starts_with("[dmarc] CRITICAL: "),
            "{}",
            mail.subject
        );
        assert!(mail.text.contains("Rule: failures"), "{}", mail.text);
        assert!(
            mail.html.contains("<h1>DMARC alert (CRITICAL)</h1>"),
            "{}",
            mail.html
        );
        // The delivery records over the API: all delivered, the two retried ones in two
        // attempts, with the receivers' status.
        let mut attempts = Vec::new();
        for id in teams_at.keys() {
            let records = server
                .call(
                    Method::GET,
                    &format!("/alerts/{id}/deliveries"),
                    &analyst,
                    None,
                )
                .await;
            for d in records.body.as_array().unwrap() {
                assert_eq!(d["state"], "delivered", "{d}");
                let code = if d["channel"] == "email" { 250 } else { 200 };
                assert_eq!(d["status_code"], code, "{d}");
                attempts.push((
                    d["channel"].as_str().unwrap().to_owned(),
                    d["attempts"].as_i64().unwrap(),
                ));
            }
        }
        assert_eq!(attempts.len(), 4 * alerts);
        let retried: Vec<&(String, i64)> = attempts.iter().filter(|(_, a)| *a == 2).collect();
        assert_eq!(retried.len(), 2, "{attempts:?}");
        assert!(
            retried.iter().any(|(c, _)| c == "slack") && retried.iter().any(|(c, _)| c == "email")
        );

        // Acknowledge then resolve one: who and when.
        let one = teams_at.keys().min().copied().unwrap();
        let acked = server
            .call(
                Method::PATCH,
                &format!("/alerts/{one}/acknowledge"),
                &analyst,
                None,
            )
            .await;
        assert_eq!(
            acked.body["acknowledged_by"], "ana@example.com",
            "{}",
            acked.body
        );
        let resolved = server
            .call(
                Method::PATCH,
                &format!("/alerts/{one}/resolve"),
                &analyst,
                None,
            )
            .await;
        assert_eq!(resolved.body["state"], "resolved");
        assert_eq!(resolved.body["resolved_by"], "ana@example.com");
        assert!(resolved.body["resolved_at"].as_i64() >= resolved.body["acknowledged_at"].as_i64());

        // Again inside the cooldown: the open alerts are found again, and so is the resolved
        // one, which the cooldown holds back; nothing is sent.
        let again = evaluate(&server).await;
        assert_eq!(
            (again["created"].as_u64(), again["repeated"].as_u64()),
            (Some(0), Some(alerts as u64)),
            "{again}"
        );
        assert_eq!(seen.lock().unwrap().len(), 3 * alerts + 1);
        assert_eq!(sink.messages().len(), alerts);

        // The condition clears (the threshold rises above every domain): the open alerts
        // are resolved by `auto` (auto_resolve_minutes is 0: once not seen for a second).
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let params = |threshold: f64| json!({"threshold": threshold, "window_hours": 24 * 365 * 20, "min_messages": 5});
        let raised = server
            .call(
                Method::PATCH,
                &format!("/alerts/rules/{rule_id}"),
                &admin,
                Some(json!({ "params": params(0.999) })),
            )
            .await;
        assert_eq!(raised.status, StatusCode::OK, "{}", raised.body);
        let cleared = evaluate(&server).await;
        assert_eq!(cleared["resolved"], alerts - 1, "{cleared}");
        let auto = server
            .call(
                Method::GET,
                "/alerts/history?state=resolved&limit=1000",
                &analyst,
                None,
            )
            .await;
        let by: Vec<&str> = auto.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["resolved_by"].as_str().unwrap())
            .collect();
        assert_eq!(by.iter().filter(|b| **b == "auto").count(), alerts - 1);

        // A suppression window for a second rule finding the same domains: its alerts are
        // recorded as suppressed and sent nowhere.
        let second = server
            .call(
                Method::POST,
                "/alerts/rules",
                &admin,
                Some(json!({"name": "failures at night", "kind": "failure_rate",
                    "severity": "warning", "params": params(0.05),
                    "channels": ["teams", "slack", "discord", "email"]})),
            )
            .await;
        assert_eq!(second.status, StatusCode::CREATED, "{}", second.body);
        let window = server
            .call(
                Method::POST,
                "/alerts/suppressions",
                &analyst,
                Some(json!({"rule_id": second.body["id"],
                            "ends_at": dmarc_store::unix_now() + 3_600,
                            "reason": "maintenance"})),
            )
            .await;
        assert_eq!(window.status, StatusCode::CREATED, "{}", window.body);
        let quiet = evaluate(&server).await;
        assert_eq!(
            (quiet["created"].as_u64(), quiet["suppressed"].as_u64()),
            (Some(0), Some(alerts as u64)),
            "{quiet}"
        );
        let suppressed = server
            .call(
                Method::GET,
                "/alerts/history?state=suppressed",
                &analyst,
                None,
            )
            .await;
        assert_eq!(suppressed.body["total"], alerts);
        assert_eq!(
            suppressed.body["items"][0]["suppression_id"],
            window.body["id"]
        );
        assert_eq!(seen.lock().unwrap().len(), 3 * alerts + 1);
        assert_eq!(sink.messages().len(), alerts);

        let _ = stop.send(true);
        for w in workers {
            w.await.unwrap();
        }
    }
}

#[tokio::test]
async fn the_channel_test_reaches_each_channel_and_names_no_secret() {
    let Some(sink) = SmtpSink::start(0) else {
        return;
    };
    let (base, seen) = receiver(0).await;
    let server = start(testing::sqlite(), |c| {
        channels(&base, &sink)(c);
        // Nobody listens there; the path is the secret part of a Discord URL.
        c.alerts.discord_webhook_url.0 = "http://127.0.0.1:9/api/webhooks/1/secret-token".into();
    })
    .await;
    server.user("admin@example.com", Role::Admin).await;
    let admin = Auth::Bearer(server.tokens("admin@example.com").await.0);
    for channel in ["teams", "slack", "email"] {
        let tested = server
            .call(
                Method::POST,
                &format!("/alerts/channels/{channel}/test"),
                &admin,
                None,
            )
            .await;
        assert_eq!(tested.status, StatusCode::OK, "{}", tested.body);
        assert_eq!(tested.body["delivered"], true, "{}", tested.body);
        let code = if channel == "email" { 250 } else { 200 };
        assert_eq!(tested.body["status_code"], code);
    }
    let hooks = seen.lock().unwrap().clone();
    assert_eq!(
        hooks.iter().map(|(c, _, _)| c.as_str()).collect::<Vec<_>>(),
        ["teams", "slack"]
    );
    assert!(hooks[0].1.to_string().contains("this channel works"));
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].subject.contains("A test message from dmarc"),
        "{}",
        mails[0].subject
    );

    let broken = server
        .call(Method::POST, "/alerts/channels/discord/test", &admin, None)
        .await;
    assert_eq!(broken.status, StatusCode::OK);
    assert_eq!(broken.body["delivered"], false);
    assert_eq!(broken.body["status_code"], Value::Null);
    assert!(
        !broken.body.to_string().contains("secret-token"),
        "{}",
        broken.body
    );
    let audit = server
        .call(Method::GET, "/audit?limit=10", &admin, None)
        .await;
    assert!(audit.body.to_string().contains("alert_channel.test"));
    assert!(!audit.body.to_string().contains("secret-token"));
}

/// The rollup `path` over `[from, to]` with `extra` parameters, as JSON.
async fn rollup(
    server: &Server,
    auth: &Auth,
    path: &str,
    from: i64,
    to: i64,
    extra: &str,
) -> Value {
    let answer = server
        .call(
            Method::GET,
            &format!("/api/rollup/{path}?from={from}&to={to}{extra}"),
            auth,
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
    answer.body
}

#[tokio::test]
async fn the_digest_of_the_corpus_equals_the_rollups_and_is_received() {
    const DAY: i64 = 86_400;
    for db in testing::databases().await {
        let Some(sink) = SmtpSink::start(0) else {
            return;
        };
        let (base, _) = receiver(0).await;
        let server = start(db, channels(&base, &sink)).await;
        server.user("admin@example.com", Role::Admin).await;
        let admin = Auth::Bearer(server.tokens("admin@example.com").await.0);
        assert_eq!(
            server.upload(&admin, &corpus_files()).await.status,
            StatusCode::OK
        );
        // The domain whose reports span the most time (under 10 years), cut in two halves: the period and
        // the one before it (other domains fall in either, or neither).
        let domains = server.store.domains().await.unwrap();
        let widest = domains
            .iter()
            .filter(|d| d.last_end - d.first_begin < 10 * 365 * DAY)
            .max_by_key(|d| (d.last_end - d.first_begin, d.reports))
            .unwrap();
        let days = ((widest.last_end - widest.first_begin) / (2 * DAY)).max(1);
        let to = widest.last_end;
        let digest = server
            .call(
                Method::GET,
                &format!("/alerts/digest?to={to}&days={days}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(digest.status, StatusCode::OK, "{}", digest.body);
        let d = &digest.body;
        let from = to - days * DAY;
        assert_eq!(
            (d["from"].as_i64(), d["to"].as_i64()),
            (Some(from), Some(to))
        );

        // Per domain: the period's and the previous period's figures are the rollups'.
        let now = rollup(&server, &admin, "by-domain", from + 1, to, "").await;
        let before = rollup(
            &server,
            &admin,
            "by-domain",
            from - days * DAY + 1,
            from,
            "",
        )
        .await;
        let of = |groups: &Value, domain: &str, field: &str| {
            groups
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["key"] == domain)
                .map_or(0, |g| g[field].as_u64().unwrap())
        };
        let listed = d["domains"].as_array().unwrap();
        assert!(listed.len() >= 5, "{} domains", listed.len());
        let mut with_change = 0;
        let mut with_new = 0;
        for entry in listed {
            let domain = entry["domain"].as_str().unwrap();
            for field in ["messages", "dmarc_pass", "dmarc_fail"] {
                assert_eq!(entry[field], of(&now, domain, field), "{domain} {field}");
            }
            assert_eq!(
                entry["previous_messages"],
                of(&before, domain, "messages"),
                "{domain}"
            );
            let messages = of(&now, domain, "messages");
            let rate =
                (messages > 0).then(|| of(&now, domain, "dmarc_pass") as f64 / messages as f64);
            let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-12,
                (a, b) => a == b,
            };
            assert!(close(entry["pass_rate"].as_f64(), rate), "{domain}");
            let earlier = of(&before, domain, "messages");
            let previous =
                (earlier > 0).then(|| of(&before, domain, "dmarc_pass") as f64 / earlier as f64);
            if let (Some(r), Some(p)) = (rate, previous) {
                with_change += 1;
                let change = entry["change_points"].as_f64().unwrap();
                assert!((change - 100.0 * (r - p)).abs() < 1e-9, "{domain}");
            }
            // Top failing addresses: the sources rollup with DKIM and SPF failing.
            let failing = rollup(
                &server,
                &admin,
                "sources",
                from + 1,
                to,
                &format!("&domain={domain}&dkim=fail&spf=fail&limit=5"),
            )
            .await;
            let want: Vec<(Value, Value)> = failing["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s["source_ip"].clone(), s["messages"].clone()))
                .collect();
            let got: Vec<(Value, Value)> = entry["top_failing"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s["source_ip"].clone(), s["messages"].clone()))
                .collect();
            assert_eq!(got, want, "{domain}");
            // New addresses: in the period, not in the 30 days before it.
            if messages > 0 {
                let sources = rollup(
                    &server,
                    &admin,
                    "sources",
                    from + 1,
                    to,
                    &format!("&domain={domain}&limit=200"),
                )
                .await;
                let earlier = rollup(
                    &server,
                    &admin,
                    "sources",
                    from - 30 * DAY + 1,
                    from,
                    &format!("&domain={domain}&limit=1000"),
                )
                .await;
                let seen: Vec<&Value> = earlier["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| &s["source_ip"])
                    .collect();
                let new = sources["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| !s["source_ip"].is_null() && !seen.contains(&&s["source_ip"]))
                    .count();
                assert_eq!(entry["new_source_count"], new, "{domain}");
                if new > 0 {
                    with_new += 1;
                }
            }
        }
        assert!(
            with_change > 0 && with_new > 0,
            "{} with a change, {} with new addresses, from {from} to {to}",
            with_change,
            with_new
        );

        // Sent now: one message to the digest's recipient, with the same figures.
        let sent = server
            .call(
                Method::POST,
                "/alerts/digest/send",
                &admin,
                Some(json!({"to": to.to_string(), "days": days})),
            )
            .await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
        assert_eq!(sent.body["sent"], true, "{}", sent.body);
        assert_eq!(sent.body["status_code"], 250);
        assert_eq!(sent.body["digest"], *d);
        let mails = sink.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(mails.len(), 1);
        let mail = &mails[0];
        assert_eq!(mail.to, vec!["weekly@example.com".to_owned()]);
        assert!(
            mail.subject
                .starts_with(&format!("[dmarc] Digest of the {days} days"))
        );
        for entry in listed {
            let line = format!(
                "{}\n  messages: {}, failing: {}\n",
                entry["domain"].as_str().unwrap(),
                entry["messages"],
                entry["dmarc_fail"]
            );
            assert!(mail.text.contains(&line), "{line} in {}", mail.text);
            if let Some(rate) = entry["pass_rate"].as_f64() {
                assert!(
                    mail.text
                        .contains(&format!("pass rate: {:.1} %", 100.0 * rate))
                );
            }
        }
        assert!(mail.html.contains("<table"), "{}", mail.html);

        // A period without reports is clean: not sent unless asked.
        let clean = server
            .call(
                Method::POST,
                "/alerts/digest/send",
                &admin,
                Some(json!({"to": "2000-01-31", "days": 7})),
            )
            .await;
        assert_eq!(clean.body["sent"], false, "{}", clean.body);
        assert!(
            clean.body["skipped"]
                .as_str()
                .unwrap()
                .contains("nothing to report")
        );
        let forced = server
            .call(
                Method::POST,
                "/alerts/digest/send",
                &admin,
                Some(json!({"to": "2000-01-31", "days": 7, "always": true})),
            )
            .await;
        assert_eq!(forced.body["sent"], true, "{}", forced.body);
        assert_eq!(sink.wait_for(2, Duration::from_secs(10)).await.len(), 2);

        // The scheduled job: the last 7 days hold no report of the corpus and no alert is
        // open, so it sends nothing and says why.
        let job = support::run_job(
            &server.state.jobs,
            1,
            JobKind::AlertDigest,
            JobState::Succeeded,
            Duration::from_secs(30),
        )
        .await;
        let result = job.result.unwrap();
        assert_eq!(result["sent"], false, "{result}");
        assert!(
            result["skipped"]
                .as_str()
                .unwrap()
                .contains("nothing to report")
        );
        assert_eq!(sink.messages().len(), 2);
    }
}
