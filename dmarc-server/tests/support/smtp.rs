//! A real SMTP server for tests: aiosmtpd (from PyPI, in a virtual environment made once
//! under the cargo target folder) running `smtp_sink.py` on 127.0.0.1 with STARTTLS
//! (required), a certificate signed by a test CA, and one user; every message it accepts is
//! saved to a folder, where [`SmtpSink::messages`] reads them. Stopped when dropped.
//!
//! Needs `python3` with `venv` and `openssl`, and PyPI the first time. Without them,
//! [`SmtpSink::start`] returns `None` after saying why, or panics when
//! `DMARC_TEST_REQUIRE_SERVICES=1`, so CI never skips.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use serde_json::Value;

use super::tls::{certificates, free_port, run};

/// The test account.
pub(crate) const USER: &str = "alerts";
/// Its password (with characters a URL must encode).
pub(crate) const PASSWORD: &str = "smtp:test@pass";
/// The pinned aiosmtpd.
const AIOSMTPD: &str = "aiosmtpd==1.4.6";

/// A received message.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// The envelope: `mail_from`, `rcpt_tos`, `tls`, `login`.
    pub(crate) envelope: Value,
    /// The `Subject` header.
    pub(crate) subject: String,
    /// The `To` header's addresses.
    pub(crate) to: Vec<String>,
    /// The plain-text part.
    pub(crate) text: String,
    /// The HTML part.
    pub(crate) html: String,
}

#[derive(Debug)]
pub(crate) struct SmtpSink {
    /// Where it listens (STARTTLS).
    pub(crate) port: u16,
    /// The PEM of the CA that signed its certificate.
    pub(crate) ca_file: PathBuf,
    child: Child,
    dir: tempfile::TempDir,
}

/// The Python of a virtual environment with aiosmtpd, made once per target folder.
fn python() -> Result<PathBuf, String> {
    static MADE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    MADE.get_or_init(|| {
        if let Ok(path) = std::env::var("DMARC_TEST_SMTP_PYTHON") {
            return Ok(PathBuf::from(path));
        }
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aiosmtpd-1.4.6");
        let python = venv.join("bin/python");
        let works = |p: &Path| {
            Command::new(p)
                .args(["-c", "import aiosmtpd"])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if works(&python) {
            return Ok(python);
        }
        // Made aside and renamed, so a concurrent test binary never sees half of it.
        let partial = venv.with_extension(format!("partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&partial);
        let here = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let partial_str = partial.display().to_string();
        run(here, "python3", &["-m", "venv", &partial_str])?;
        run(
            here,
            &partial.join("bin/pip").display().to_string(),
            &["install", "-q", AIOSMTPD],
        )?;
        if std::fs::rename(&partial, &venv).is_err() {
            // Another test binary made it first.
            let _ = std::fs::remove_dir_all(&partial);
        }
        works(&python)
            .then_some(python)
            .ok_or_else(|| "aiosmtpd does not import after pip install".to_owned())
    })
    .clone()
}

impl SmtpSink {
    /// A running server refusing the first `fail_first` messages with 451, or `None`
    /// (after printing why) when it cannot run here.
    pub(crate) fn start(fail_first: u32) -> Option<SmtpSink> {
        match SmtpSink::try_start(fail_first) {
            Ok(sink) => Some(sink),
            Err(why) => {
                assert!(
                    !dmarc_store::testing::services_required(),
                    "DMARC_TEST_REQUIRE_SERVICES=1 but the SMTP server cannot run: {why}"
                );
                eprintln!("skipped: e-mail tests need aiosmtpd ({why})");
                None
            }
        }
    }

    fn try_start(fail_first: u32) -> Result<SmtpSink, String> {
        let python = python()?;
        let dir = tempfile::Builder::new()
            .prefix("dmarc-smtp")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let t = dir.path();
        certificates(t)?;
        std::fs::create_dir(t.join("mail")).map_err(|e| e.to_string())?;
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .arg(t.join("cert.pem"))
            .arg(t.join("key.pem"))
            .arg(t.join("mail"))
            .args([USER, PASSWORD, "--fail-first", &fail_first.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("smtp_sink.py: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if line.trim() != "ready" {
            let _ = child.kill();
            return Err(format!("smtp_sink.py did not start: {line:?}"));
        }
        Ok(SmtpSink {
            port,
            ca_file: t.join("ca.pem"),
            child,
            dir,
        })
    }

    /// The `alerts.smtp_url` of this server (STARTTLS, with the credentials encoded).
    pub(crate) fn url(&self) -> String {
        let encoded: String = PASSWORD
            .chars()
            .map(|c| match c {
                ':' => "%3A".to_owned(),
                '@' => "%40".to_owned(),
                c => c.to_string(),
            })
            .collect();
        format!("smtp://{USER}:{encoded}@localhost:{}", self.port)
    }

    /// The messages received so far, in order.
    pub(crate) fn messages(&self) -> Vec<Received> {
        let folder = self.dir.path().join("mail");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&folder)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        names.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        names.sort();
        names
            .into_iter()
            .map(|eml| {
                let raw = std::fs::read(&eml).expect("the message");
                let envelope: Value = serde_json::from_slice(
                    &std::fs::read(eml.with_extension("json")).expect("the envelope"),
                )
                .expect("JSON");
                let message = MessageParser::default()
                    .parse(&raw)
                    .expect("a message that parses");
                let to = message
                    .to()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.address().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                Received {
                    envelope,
                    subject: message.subject().unwrap_or_default().to_owned(),
                    to,
                    text: message
                        .body_text(0)
                        .map(|t| t.replace("\r\n", "\n"))
                        .unwrap_or_default(),
                    html: message
                        .body_html(0)
                        .map(|t| t.replace("\r\n", "\n"))
                        .unwrap_or_default(),
                }
            })
            .collect()
    }

    /// Waits until at least `count` messages arrived (or `timeout` passed); the messages.
    pub(crate) async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= count || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
