//! Mailbox ingestion against a real Dovecot started by the test (see `support/dovecot.rs`):
//! plain, STARTTLS and TLS with a test CA; messages carrying corpus reports as gzip, zip,
//! XML and forwarded messages; a message without a report; reruns; a `dmarc imap fetch`
//! killed mid-batch; wrong credentials as a job that is retried with backoff.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dmarc_benches::{Generator, email, email_with, forwarded};
use dmarc_core::{ParseOptions, Report};
use dmarc_server::config::{Config, ImapTls, LimitsConfig, Secret};
use dmarc_server::imap;
use dmarc_server::ingest::Ingest;
use dmarc_server::jobs::{JobKind, Jobs};
use dmarc_server::metrics::Metrics;
use dmarc_store::testing::{self, TestDb};
use dmarc_store::{JobState, Store};
use support::dovecot::{self, Dovecot};

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../dmarc-core/tests/data/corpus/aggregate")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(corpus(name)).expect("corpus file")
}

/// Real reports in the ways they arrive: gzip, zip and XML attachments, and a reporter's
/// message forwarded by a person.
fn corpus_messages() -> Vec<Vec<u8>> {
    vec![
        email_with(
            "test.xml.gz",
            "application/gzip",
            &read("tierpod__test.xml.gz"),
        ),
        email_with(
            "aol.zip",
            "application/zip",
            &read("dmarcgo__aol.com!georgestarcher.com!1342497600!1342584000.zip"),
        ),
        email_with(
            "report.xml",
            "text/xml",
            &read("dmarcrua__0afe822aaa48402b8f6cf763e9396405.xml"),
        ),
        forwarded(&read("mailauth__100.eml")),
    ]
}

/// The distinct reports in the corpus files the messages carry.
fn corpus_reports() -> Vec<Report> {
    let parsed: Vec<Report> = [
        "tierpod__test.xml.gz",
        "dmarcgo__aol.com!georgestarcher.com!1342497600!1342584000.zip",
        "dmarcrua__0afe822aaa48402b8f6cf763e9396405.xml",
        "mailauth__100.eml",
    ]
    .iter()
    .flat_map(|name| {
        dmarc_core::parse_input(&read(name), &ParseOptions::at(dmarc_store::unix_now()))
    })
    .filter_map(|p| p.result.ok())
    .collect();
    testing::distinct(&parsed)
}

const NO_REPORT: &str = "From: someone@example.net\r\nTo: dmarc@example.com\r\n\
    Subject: hello\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nNo report here.\r\n";

/// Ingestion into `store` with the default configuration.
fn ingest(store: &Store) -> Ingest {
    Ingest::new(
        store.clone(),
        &LimitsConfig::default(),
        Arc::new(Metrics::default()),
    )
}

async fn store() -> (TestDb, Store) {
    let db = testing::sqlite();
    let store = Store::connect(&db.url).await.expect("connect");
    (db, store)
}

#[tokio::test]
async fn reports_are_ingested_and_messages_moved_once() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    let (_db, store) = store().await;
    let mut session = server.session().await;
    let mut messages = corpus_messages();
    messages.push(NO_REPORT.as_bytes().to_vec());
    dovecot::append(&mut session, "INBOX", &messages).await;
    let expected = corpus_reports();

    let mailbox = server.mailbox(ImapTls::None);
    let summary = imap::fetch_mailbox(&ingest(&store), &mailbox)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", server.log()));
    assert_eq!(summary.messages, 5);
    assert_eq!((summary.processed, summary.failed), (4, 1));
    assert_eq!(summary.outcomes.accepted as usize, expected.len());
    let totals = store.totals().await.unwrap();
    assert_eq!(totals.reports as usize, expected.len());
    assert_eq!(
        totals.messages,
        expected.iter().map(Report::message_count).sum::<u64>()
    );
    assert_eq!(dovecot::count(&mut session, "INBOX").await, 0);
    assert_eq!(dovecot::count(&mut session, "Processed").await, 4);
    assert_eq!(dovecot::count(&mut session, "Failed").await, 1);
    // The reason is in the ingest log, with the message's name.
    let outcomes = store.outcomes(dmarc_store::Page::first(100)).await.unwrap();
    let rejected = outcomes
        .items
        .iter()
        .find(|o| o.outcome == dmarc_store::OutcomeStatus::Rejected)
        .expect("the message without a report is logged");
    assert!(
        rejected.input.starts_with("imap://dmarc@127.0.0.1:"),
        "{}",
        rejected.input
    );
    assert!(rejected.error.is_some());

    // A second pass finds nothing; the same messages again are duplicates, not new reports.
    let again = imap::fetch_mailbox(&ingest(&store), &mailbox)
        .await
        .unwrap();
    assert_eq!((again.messages, again.processed), (0, 0));
    dovecot::append(&mut session, "INBOX", &corpus_messages()).await;
    let resent = imap::fetch_mailbox(&ingest(&store), &mailbox)
        .await
        .unwrap();
    assert_eq!(resent.processed, 4);
    assert_eq!(resent.outcomes.accepted, 0);
    assert_eq!(resent.outcomes.duplicate as usize, expected.len());
    assert_eq!(
        store.totals().await.unwrap().reports as usize,
        expected.len()
    );
    assert_eq!(dovecot::count(&mut session, "Processed").await, 8);
}

#[tokio::test]
async fn tls_and_starttls_verify_the_server_against_the_configured_ca() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    let (_db, store) = store().await;
    let mut session = server.session().await;
    let mut generator = Generator::new(11);
    for tls in [ImapTls::Tls, ImapTls::Starttls] {
        let report = generator.report(
            dmarc_benches::Reporter::Google,
            "tls.example",
            1_714_521_600,
            3,
        );
        dovecot::append(
            &mut session,
            "INBOX",
            &[email(
                "r.xml.gz",
                &dmarc_benches::gzip(report.xml.as_bytes()),
            )],
        )
        .await;
        let mailbox = server.mailbox(tls);
        let summary = imap::fetch_mailbox(&ingest(&store), &mailbox)
            .await
            .unwrap_or_else(|e| panic!("{tls:?}: {e:#}\n{}", server.log()));
        assert_eq!(
            (summary.processed, summary.outcomes.accepted),
            (1, 1),
            "{tls:?}"
        );

        // Without the test CA the certificate is refused and nothing is touched.
        let untrusted = dmarc_server::config::MailboxConfig {
            ca_file: String::new(),
            ..mailbox
        };
        dovecot::append(&mut session, "INBOX", &[NO_REPORT.as_bytes().to_vec()]).await;
        let e = imap::fetch_mailbox(&ingest(&store), &untrusted)
            .await
            .expect_err("an unknown CA");
        assert!(format!("{e:#}").contains("certificate"), "{tls:?}: {e:#}");
        assert_eq!(dovecot::count(&mut session, "INBOX").await, 1);
        imap::fetch_mailbox(&ingest(&store), &server.mailbox(ImapTls::None))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn wrong_credentials_fail_the_job_after_retries_with_backoff() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    let (_db, store) = store().await;
    let mut config = Config {
        imap: server.mailbox(ImapTls::None),
        ..Config::default()
    };
    config.imap.password = Secret("not-the-password".into());
    config.jobs.retry_backoff_ms = 300;
    config.jobs.poll_interval_ms = 50;
    let jobs = Jobs::new(store, Arc::new(config), Arc::new(Metrics::default()));
    let job = support::run_job(
        &jobs,
        1,
        JobKind::EmailIngestion,
        JobState::Failed,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(job.state, JobState::Failed, "{job:?}");
    assert_eq!(job.attempts, 3);
    let error = job.last_error.unwrap();
    assert!(error.contains("login as dmarc refused"), "{error}");
    assert!(
        !error.contains("not-the-password"),
        "no password in errors: {error}"
    );
    // Retried after 300 ms, then 600 ms: at least 900 ms from the first start to the end.
    let elapsed = job.finished_at.unwrap() - job.created_at;
    assert!(elapsed >= 900, "{elapsed} ms");
}

/// `dmarc imap fetch` killed mid-pass, then run again: every report exactly once, every
/// message moved.
#[tokio::test]
async fn a_killed_fetch_rerun_gives_exact_totals() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    let db = testing::sqlite();
    let mut generator = Generator::new(5);
    let reports = generator.batch(200, 4, 1_714_521_600, 30_000);
    let messages: Vec<Vec<u8>> = reports
        .iter()
        .map(|r| {
            email(
                &r.file_name(dmarc_benches::Container::Gzip),
                &dmarc_benches::gzip(r.xml.as_bytes()),
            )
        })
        .collect();
    let mut session = server.session().await;
    dovecot::append(&mut session, "INBOX", &messages).await;

    let mailbox = server.mailbox(ImapTls::None);
    let fetch = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_dmarc"));
        command
            .args(["imap", "fetch", "--database-url", &db.url])
            .env("DMARC_IMAP_HOST", &mailbox.host)
            .env("DMARC_IMAP_PORT", mailbox.port.to_string())
            .env("DMARC_IMAP_USER", &mailbox.user)
            .env("DMARC_IMAP_PASSWORD", &mailbox.password.0)
            .env("DMARC_IMAP_TLS", "none")
            .env("DMARC_IMAP_BATCH_SIZE", "5")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    };
    let store = Store::connect(&db.url).await.unwrap();
    let mut child = fetch().spawn().expect("dmarc imap fetch");
    // Kill it once some batches are committed and before it is done.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stored = store.totals().await.unwrap().reports;
        if stored >= 20 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = store.totals().await.unwrap().reports;
    assert!(
        partial > 0 && (partial as usize) < reports.len(),
        "killed mid-pass: {partial}"
    );
    // The server may still finish a command the killed client sent (a MOVE): count once
    // the mailbox has settled.
    let mut left = dovecot::count(&mut session, "INBOX").await;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let again = dovecot::count(&mut session, "INBOX").await;
        if again == left {
            break;
        }
        left = again;
    }
    assert!(left > 0, "messages were left");

    let out = fetch().output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let totals = store.totals().await.unwrap();
    assert_eq!(totals.reports as usize, reports.len());
    assert_eq!(
        totals.records as usize,
        reports.iter().map(|r| r.records).sum::<usize>()
    );
    assert_eq!(
        totals.messages,
        reports.iter().map(|r| r.messages).sum::<u64>()
    );
    assert_eq!(dovecot::count(&mut session, "INBOX").await, 0);
    assert_eq!(
        dovecot::count(&mut session, "Processed").await,
        reports.len()
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
    assert_eq!(summary["messages"].as_u64().unwrap() as usize, left);
}

/// Reports dated in the far future and in the year 5138 arrive by mail next to one dated
/// in milliseconds: the future ones are rejected (their messages go to the failed folder),
/// the millisecond one is repaired and stored, and the timeline stays small.
#[tokio::test]
async fn future_periods_by_mail_are_refused() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    let (_db, store) = store().await;
    let mut session = server.session().await;
    let dated = support::dated_report;
    let huge = std::fs::read(support::regression("huge9e18.xml")).expect("huge");
    let messages = [
        email("huge.xml.gz", &dmarc_benches::gzip(&huge)),
        email(
            "y5138.xml.gz",
            &dmarc_benches::gzip(dated("y5138", "99999000000", "99999086400").as_bytes()),
        ),
        email(
            "ms.xml.gz",
            &dmarc_benches::gzip(dated("ms", "1700100000000", "1700186399000").as_bytes()),
        ),
    ];
    dovecot::append(&mut session, "INBOX", &messages).await;
    let summary = imap::fetch_mailbox(&ingest(&store), &server.mailbox(ImapTls::None))
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", server.log()));
    assert_eq!((summary.processed, summary.failed), (1, 2));
    assert_eq!(
        (summary.outcomes.accepted, summary.outcomes.rejected),
        (1, 2)
    );
    assert_eq!(dovecot::count(&mut session, "Failed").await, 2);
    let days = store
        .timeline(&dmarc_core::Filter::default())
        .await
        .expect("timeline");
    assert_eq!(days.len(), 1, "{days:?}");
}

/// A message over the input size limit is not fetched: it gets the rejected outcome an
/// oversized file gets (`limit_exceeded`, counted with the others) and goes to the failed
/// folder, while the report next to it is stored.
#[tokio::test]
async fn an_oversized_message_is_rejected_unread_like_an_oversized_file() {
    let Some(server) = Dovecot::start() else {
        return;
    };
    let (_db, store) = store().await;
    let mut session = server.session().await;
    let limit = dmarc_core::Limits::default().max_input_bytes as usize;
    let mut big = NO_REPORT.as_bytes().to_vec();
    let line = b"filler filler filler filler filler filler filler filler filler filler\r\n";
    while big.len() <= limit {
        big.extend_from_slice(line);
    }
    let report = corpus_messages().remove(0);
    dovecot::append(&mut session, "INBOX", &[big, report]).await;
    let mailbox = server.mailbox(ImapTls::None);
    let summary = imap::fetch_mailbox(&ingest(&store), &mailbox)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", server.log()));
    assert_eq!(
        (summary.messages, summary.processed, summary.failed),
        (2, 1, 1)
    );
    assert_eq!(summary.outcomes.rejected, 1);
    assert_eq!(dovecot::count(&mut session, "Failed").await, 1);
    let outcomes = store.outcomes(dmarc_store::Page::first(10)).await.unwrap();
    assert!(
        outcomes
            .items
            .iter()
            .all(|o| o.outcome != dmarc_store::OutcomeStatus::Rejected),
        "an unread message is reported, not stored: {outcomes:?}"
    );
    assert_eq!(store.totals().await.unwrap().payloads, 1);
}
