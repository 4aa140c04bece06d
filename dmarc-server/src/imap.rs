//! Mailbox ingestion over IMAP (async-imap over tokio-rustls with ring; TLS, STARTTLS, or
//! plain for tests and local servers).
//!
//! One pass over a mailbox: every message in the folder is fetched (in batches bounded by
//! count and bytes, without setting `\Seen`), goes through the one ingestion pipeline
//! ([`crate::ingest::Ingest`] over [`dmarc_store::ingest_inputs`], which keeps the raw
//! message and logs an outcome per payload), and only after that transaction has committed
//! is it moved: to the processed folder when it held a report (new or already stored), to
//! the failed folder when it held none (the reason is in the ingest log). A connection lost
//! mid-pass loses nothing: messages not yet moved are fetched again next time and their
//! reports are recognised as duplicates.
//!
//! All messages of the folder are taken, read or not: a person opening a report in a mail
//! client must not hide it from ingestion.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_imap::{Client, Session};
use dmarc_store::{Input, Outcome, OutcomeStatus, OutcomeTally};
use futures_util::TryStreamExt;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::{Config, ImapTls, MailboxConfig};
use crate::ingest::Ingest;

/// Bytes of messages held in memory at once (besides one message over it, which is
/// fetched alone).
const BATCH_BYTES: u64 = 64 << 20;

/// What one pass over one mailbox did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MailboxSummary {
    /// `user@host:port/folder`.
    pub mailbox: String,
    /// Messages found in the folder.
    pub messages: u64,
    /// Messages moved to the processed folder.
    pub processed: u64,
    /// Messages moved to the failed folder.
    pub failed: u64,
    /// Outcomes of the reports found.
    pub outcomes: OutcomeTally,
}

/// What one ingestion pass over every mailbox did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FetchSummary {
    /// One entry per mailbox.
    pub mailboxes: Vec<MailboxSummary>,
}

/// A byte stream IMAP runs over: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Io for T {}
type Stream = Box<dyn Io>;

/// Why a mailbox pass failed. Messages name the step and the server's or the system's
/// reason, never the password.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// A step failed (connecting, TLS, an IMAP command, reading the CA file).
    #[error("{step}: {cause}")]
    Step {
        /// What was being done.
        step: String,
        /// Why it failed.
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The server did not answer a step in time.
    #[error("{step}: no answer within {seconds} s")]
    Timeout {
        /// What was being done.
        step: String,
        /// The mailbox's timeout.
        seconds: u64,
    },
    /// The server refused the login.
    #[error("login as {user} refused: {reason}")]
    Refused {
        /// The configured user.
        user: String,
        /// The server's answer.
        reason: String,
    },
    /// The connection closed before the server greeted.
    #[error("the server closed the connection before its greeting")]
    NoGreeting,
    /// Storing what was fetched failed.
    #[error("storing the messages failed: {0}")]
    Store(#[from] dmarc_store::StoreError),
    /// The task storing a batch died.
    #[error("the task storing a batch failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// Several mailboxes failed; each is named with its reason.
    #[error("{0}")]
    Mailboxes(String),
}

impl ImapError {
    fn step(
        step: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ImapError::Step {
            step: step.into(),
            cause: Box::new(cause),
        }
    }
}

type Result<T, E = ImapError> = std::result::Result<T, E>;

/// Runs `future` with the mailbox's timeout; the error names `what` timed out.
async fn timed<T, E>(
    mailbox: &MailboxConfig,
    what: &str,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(Duration::from_secs(mailbox.timeout_seconds), future).await {
        Ok(result) => result.map_err(|e| ImapError::step(what, e)),
        Err(_) => Err(ImapError::Timeout {
            step: what.to_owned(),
            seconds: mailbox.timeout_seconds,
        }),
    }
}

fn tls_config(mailbox: &MailboxConfig) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if !mailbox.ca_file.is_empty() {
        let pem = std::fs::read(&mailbox.ca_file)
            .map_err(|e| ImapError::step(format!("cannot read ca_file {}", mailbox.ca_file), e))?;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let step = || format!("ca_file {}", mailbox.ca_file);
            let cert = cert.map_err(|e| ImapError::step(step(), e))?;
            roots.add(cert).map_err(|e| ImapError::step(step(), e))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ImapError::step("TLS set-up", e))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

async fn tls(mailbox: &MailboxConfig, tcp: TcpStream) -> Result<Stream> {
    let name = rustls::pki_types::ServerName::try_from(mailbox.host.clone())
        .map_err(|e| ImapError::step(format!("{:?} is not a host name", mailbox.host), e))?;
    let connector = tokio_rustls::TlsConnector::from(tls_config(mailbox)?);
    let stream = timed(mailbox, "TLS handshake", connector.connect(name, tcp)).await?;
    Ok(Box::new(stream))
}

/// `client` once the server has greeted it.
async fn greeted<T: Io>(mailbox: &MailboxConfig, mut client: Client<T>) -> Result<Client<T>> {
    let greeting = timed(mailbox, "server greeting", client.read_response()).await?;
    if greeting.is_none() {
        return Err(ImapError::NoGreeting);
    }
    Ok(client)
}

/// An unauthenticated client past the greeting (and STARTTLS).
async fn connect(mailbox: &MailboxConfig) -> Result<Client<Stream>> {
    let address = (mailbox.host.as_str(), mailbox.port());
    let what = format!("connect to {}:{}", mailbox.host, mailbox.port());
    let tcp = timed(mailbox, &what, TcpStream::connect(address)).await?;
    match mailbox.tls {
        ImapTls::Tls => greeted(mailbox, Client::new(tls(mailbox, tcp).await?)).await,
        ImapTls::None => greeted(mailbox, Client::new(Box::new(tcp) as Stream)).await,
        ImapTls::Starttls => {
            let mut client = greeted(mailbox, Client::new(tcp)).await?;
            timed(
                mailbox,
                "STARTTLS",
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await?;
            // No greeting after STARTTLS.
            Ok(Client::new(tls(mailbox, client.into_inner()).await?))
        }
    }
}

/// Logs in; the error says who was refused (never the password).
async fn login(mailbox: &MailboxConfig) -> Result<Session<Stream>> {
    let client = connect(mailbox).await?;
    let login = client.login(&mailbox.user, &mailbox.password.0);
    match tokio::time::timeout(Duration::from_secs(mailbox.timeout_seconds), login).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err((e, _))) => Err(ImapError::Refused {
            user: mailbox.user.clone(),
            reason: e.to_string(),
        }),
        Err(_) => Err(ImapError::Timeout {
            step: "login".into(),
            seconds: mailbox.timeout_seconds,
        }),
    }
}

/// Fetches every configured mailbox once. Mailboxes are independent: one that fails does
/// not stop the others, and the error names each that failed.
pub async fn fetch_all(ingest: &Ingest, config: &Config) -> Result<FetchSummary> {
    let mut summary = FetchSummary::default();
    let mut errors = Vec::new();
    for mailbox in config.mailboxes() {
        match fetch_mailbox(ingest, mailbox).await {
            Ok(done) => summary.mailboxes.push(done),
            Err(e) => {
                tracing::warn!(mailbox = %mailbox.name(), error = %format!("{e:#}"), "mailbox not fetched");
                errors.push(format!("{}: {e:#}", mailbox.name()));
            }
        }
    }
    if errors.is_empty() {
        Ok(summary)
    } else {
        Err(ImapError::Mailboxes(errors.join("; ")))
    }
}

/// One pass over one mailbox.
pub async fn fetch_mailbox(ingest: &Ingest, mailbox: &MailboxConfig) -> Result<MailboxSummary> {
    let mut session = login(mailbox).await?;
    let result = pass(ingest, mailbox, &mut session).await;
    // A failed logout changes nothing that was committed.
    let _ = tokio::time::timeout(
        Duration::from_secs(mailbox.timeout_seconds),
        session.logout(),
    )
    .await;
    result
}

async fn pass(
    ingest: &Ingest,
    mailbox: &MailboxConfig,
    session: &mut Session<Stream>,
) -> Result<MailboxSummary> {
    for folder in [&mailbox.processed_folder, &mailbox.failed_folder] {
        // Creating a folder that exists answers NO, which is fine; a folder that cannot be
        // created makes the move below fail with the server's reason.
        match timed(mailbox, "CREATE", session.create(folder)).await {
            Ok(()) => tracing::info!(mailbox = %mailbox.name(), folder, "folder created"),
            Err(e) => tracing::debug!(folder, error = %format!("{e:#}"), "folder not created"),
        }
    }
    let can_move = timed(mailbox, "CAPABILITY", session.capabilities())
        .await?
        .has_str("MOVE");
    timed(
        mailbox,
        &format!("SELECT {}", mailbox.folder),
        session.select(&mailbox.folder),
    )
    .await?;
    let sizes = message_sizes(mailbox, session).await?;
    let mut summary = MailboxSummary {
        mailbox: mailbox.name(),
        messages: sizes.len() as u64,
        ..MailboxSummary::default()
    };
    let limits = dmarc_core::Limits::default();
    // A message over the input limit is not fetched: it goes through the pipeline as an
    // unreadable input, so it gets the same rejected outcome an oversized file or upload
    // gets, then to the failed folder.
    let mut unread = Vec::new();
    let mut readable = Vec::with_capacity(sizes.len());
    for (uid, size) in sizes {
        match limits.check_input_size(u64::from(size)) {
            Ok(()) => readable.push((uid, size)),
            Err(error) => unread.push((uid, Err(error))),
        }
    }
    let sizes = readable;
    if !unread.is_empty() {
        let stored = store(ingest.clone(), mailbox.clone(), unread).await?;
        file_away(mailbox, session, can_move, stored, &mut summary).await?;
    }
    // Batch n is stored while batch n + 1 is fetched; a batch is moved once stored.
    let mut storing: Option<tokio::task::JoinHandle<Result<Stored>>> = None;
    for batch in batches(&sizes, mailbox.batch_size) {
        let fetched = match fetch_batch(mailbox, session, &batch).await {
            Ok(fetched) => fetched,
            Err(e) => {
                if let Some(task) = storing {
                    let _ = task.await;
                }
                return Err(e);
            }
        };
        let fetched = fetched
            .into_iter()
            .map(|(uid, bytes)| (uid, Ok(bytes)))
            .collect();
        let next = tokio::spawn(store(ingest.clone(), mailbox.clone(), fetched));
        if let Some(task) = storing.replace(next) {
            let stored = task.await??;
            file_away(mailbox, session, can_move, stored, &mut summary).await?;
        }
    }
    if let Some(task) = storing {
        let stored = task.await??;
        file_away(mailbox, session, can_move, stored, &mut summary).await?;
    }
    tracing::info!(
        mailbox = %summary.mailbox,
        messages = summary.messages,
        processed = summary.processed,
        failed = summary.failed,
        accepted = summary.outcomes.accepted,
        duplicate = summary.outcomes.duplicate,
        rejected = summary.outcomes.rejected,
        "mailbox fetched"
    );
    Ok(summary)
}

/// `(uid, size)` of every message in the selected folder, oldest first.
async fn message_sizes(
    mailbox: &MailboxConfig,
    session: &mut Session<Stream>,
) -> Result<Vec<(u32, u32)>> {
    let uids = timed(mailbox, "UID SEARCH", session.uid_search("ALL")).await?;
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let fetches: Vec<_> = timed(mailbox, "UID FETCH sizes", async {
        session
            .uid_fetch("1:*", "(UID RFC822.SIZE)")
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    let mut sizes: Vec<(u32, u32)> = fetches
        .iter()
        .filter_map(|f| Some((f.uid?, f.size.unwrap_or(0))))
        .filter(|(uid, _)| uids.contains(uid))
        .collect();
    sizes.sort_unstable();
    sizes.dedup_by_key(|(uid, _)| *uid);
    Ok(sizes)
}

/// Groups of messages of at most `count` messages and [`BATCH_BYTES`] bytes (a larger
/// message goes alone).
fn batches(sizes: &[(u32, u32)], count: usize) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut bytes = 0u64;
    for (uid, size) in sizes {
        let size = u64::from(*size);
        match out.last_mut() {
            Some(batch) if batch.len() < count && bytes + size <= BATCH_BYTES => {
                batch.push(*uid);
                bytes += size;
            }
            _ => {
                out.push(vec![*uid]);
                bytes = size;
            }
        }
    }
    out
}

/// `1,4,7` for IMAP.
fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The raw messages of `uids` (`\Seen` is left alone).
async fn fetch_batch(
    mailbox: &MailboxConfig,
    session: &mut Session<Stream>,
    uids: &[u32],
) -> Result<Vec<(u32, Vec<u8>)>> {
    let fetches: Vec<_> = timed(mailbox, "UID FETCH messages", async {
        session
            .uid_fetch(uid_set(uids), "(UID BODY.PEEK[])")
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    let mut messages: HashMap<u32, Vec<u8>> = HashMap::new();
    for fetch in &fetches {
        if let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) {
            messages.insert(uid, body.to_vec());
        }
    }
    // A message deleted by someone else meanwhile is simply gone.
    Ok(uids
        .iter()
        .filter_map(|uid| messages.remove(uid).map(|body| (*uid, body)))
        .collect())
}

/// A stored batch: the messages to move to the processed and to the failed folder, and
/// the outcomes of their payloads.
struct Stored {
    processed: Vec<u32>,
    failed: Vec<u32>,
    outcomes: Vec<dmarc_store::Outcome>,
}

/// Counts a stored batch and moves its messages (only now that they are committed).
async fn file_away(
    mailbox: &MailboxConfig,
    session: &mut Session<Stream>,
    can_move: bool,
    stored: Stored,
    summary: &mut MailboxSummary,
) -> Result<()> {
    for outcome in &stored.outcomes {
        summary.outcomes.add(outcome);
    }
    let processed_folder = &mailbox.processed_folder;
    move_messages(
        mailbox,
        session,
        can_move,
        &stored.processed,
        processed_folder,
    )
    .await?;
    move_messages(
        mailbox,
        session,
        can_move,
        &stored.failed,
        &mailbox.failed_folder,
    )
    .await?;
    summary.processed += stored.processed.len() as u64;
    summary.failed += stored.failed.len() as u64;
    while session.unsolicited_responses.try_recv().is_ok() {}
    Ok(())
}

/// Parses and stores a batch of messages through the ingestion pipeline (a message that
/// was not fetched comes with why).
async fn store(
    ingest: Ingest,
    mailbox: MailboxConfig,
    messages: Vec<(u32, std::result::Result<Vec<u8>, dmarc_core::Error>)>,
) -> Result<Stored> {
    let base = format!(
        "imap://{}@{}:{}/{}",
        mailbox.user,
        mailbox.host,
        mailbox.port(),
        mailbox.folder
    );
    let uids: Vec<u32> = messages.iter().map(|(uid, _)| *uid).collect();
    let (sender, inputs) = tokio::sync::mpsc::channel::<Input>(1);
    let feed = async move {
        for (uid, bytes) in messages {
            let input = Input {
                name: format!("{base};UID={uid}"),
                bytes,
            };
            if sender.send(input).await.is_err() {
                break;
            }
        }
    };
    let mut results: Vec<Vec<Outcome>> = Vec::with_capacity(uids.len());
    let ((), stored) = tokio::join!(feed, ingest.run(inputs, |done| results.push(done.outcomes)));
    stored?;
    let mut stored = Stored {
        processed: Vec::new(),
        failed: Vec::new(),
        outcomes: Vec::new(),
    };
    for (uid, outcomes) in uids.into_iter().zip(results) {
        let holds_report = outcomes
            .iter()
            .any(|o| o.outcome != OutcomeStatus::Rejected);
        if holds_report {
            stored.processed.push(uid);
        } else {
            let reasons: Vec<String> = outcomes
                .iter()
                .filter_map(|o| o.error.as_ref().map(|e| e.to_string()))
                .collect();
            tracing::warn!(mailbox = %mailbox.name(), uid, reasons = %reasons.join("; "), "message without a report: moved to the failed folder");
            stored.failed.push(uid);
        }
        stored.outcomes.extend(outcomes);
    }
    Ok(stored)
}

/// Moves messages to `folder` (MOVE, or COPY + `\Deleted` + EXPUNGE without it).
async fn move_messages(
    mailbox: &MailboxConfig,
    session: &mut Session<Stream>,
    can_move: bool,
    uids: &[u32],
    folder: &str,
) -> Result<()> {
    if uids.is_empty() {
        return Ok(());
    }
    let set = uid_set(uids);
    let what = format!("moving {} messages to {folder}", uids.len());
    if can_move {
        timed(mailbox, &what, session.uid_mv(&set, folder)).await?;
    } else {
        timed(mailbox, &what, session.uid_copy(&set, folder)).await?;
        timed(mailbox, &what, async {
            session
                .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
        timed(mailbox, &what, async {
            session.expunge().await?.try_collect::<Vec<_>>().await
        })
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_bounded_by_count_and_bytes() {
        let sizes: Vec<(u32, u32)> = (1..=7).map(|uid| (uid, 1000)).collect();
        assert_eq!(
            batches(&sizes, 3),
            vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]
        );
        let big = (BATCH_BYTES / 2) as u32 + 1;
        let sizes = [(1, big), (2, big), (3, 10), (4, u32::MAX)];
        assert_eq!(
            batches(&sizes, 50),
            vec![vec![1], vec![2, 3], vec![4]],
            "bytes bound the batch; an oversized message goes alone"
        );
        assert_eq!(uid_set(&[3, 9, 12]), "3,9,12");
    }
}
