//! A real Dovecot IMAP server for tests: its own configuration, users file, maildirs and a
//! test CA in a temporary folder, listening on 127.0.0.1 with plain IMAP (STARTTLS offered)
//! and IMAPS. Stopped and deleted when dropped.
//!
//! Needs `dovecot` (Debian's `dovecot-imapd`) and `openssl`, and root (Dovecot switches to
//! the `mail` user for mail access). Without them, [`Dovecot::start`] returns `None` after
//! saying why, or panics when `DMARC_TEST_REQUIRE_SERVICES=1`, so CI never skips.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_imap::Session;

use super::tls::{certificates, free_port, run};
use dmarc_server::config::{ImapTls, MailboxConfig, Secret};
use tokio::net::TcpStream as AsyncTcp;

/// The test account.
pub(crate) const USER: &str = "dmarc";
/// Its password.
pub(crate) const PASSWORD: &str = "imap-test-password";

#[derive(Debug)]
pub(crate) struct Dovecot {
    /// Plain IMAP (STARTTLS available).
    pub(crate) port: u16,
    /// IMAP over TLS.
    pub(crate) tls_port: u16,
    /// The PEM of the CA that signed the server's certificate.
    pub(crate) ca_file: PathBuf,
    child: Child,
    dir: tempfile::TempDir,
}

fn dovecot_binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("DMARC_TEST_DOVECOT") {
        return Some(PathBuf::from(path));
    }
    ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

impl Dovecot {
    /// A running server, or `None` (after printing why) when Dovecot cannot run here.
    pub(crate) fn start() -> Option<Dovecot> {
        match Dovecot::try_start() {
            Ok(server) => Some(server),
            Err(why) => {
                assert!(
                    !dmarc_store::testing::services_required(),
                    "DMARC_TEST_REQUIRE_SERVICES=1 but Dovecot cannot run: {why}"
                );
                eprintln!("skipped: IMAP tests need Dovecot ({why})");
                None
            }
        }
    }

    fn try_start() -> Result<Dovecot, String> {
        let binary = dovecot_binary().ok_or("no dovecot binary (apt-get install dovecot-imapd)")?;
        let dir = tempfile::Builder::new()
            .prefix("dmarc-dovecot")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let t = dir.path();
        for sub in ["run", "mail", "state"] {
            std::fs::create_dir_all(t.join(sub)).map_err(|e| e.to_string())?;
        }
        // The mail user must reach its maildir.
        run(t, "chmod", &["755", "."])?;
        run(t, "chown", &["-R", "mail:mail", "mail"])?;
        certificates(t)?;
        std::fs::write(t.join("users"), format!("{USER}:{{PLAIN}}{PASSWORD}\n"))
            .map_err(|e| e.to_string())?;
        let (port, tls_port) = (free_port(), free_port());
        let t_str = t.display();
        let config = format!(
            "protocols = imap\n\
             listen = 127.0.0.1\n\
             base_dir = {t_str}/run\n\
             state_dir = {t_str}/state\n\
             log_path = {t_str}/dovecot.log\n\
             ssl = yes\n\
             ssl_cert = <{t_str}/cert.pem\n\
             ssl_key = <{t_str}/key.pem\n\
             disable_plaintext_auth = no\n\
             auth_mechanisms = plain login\n\
             first_valid_uid = 8\n\
             mail_location = maildir:{t_str}/mail/%u\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {t_str}/users\n}}\n\
             userdb {{\n  driver = static\n  args = uid=mail gid=mail home={t_str}/mail/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n\
               inet_listener imaps {{\n    address = 127.0.0.1\n    port = {tls_port}\n    ssl = yes\n  }}\n}}\n\
             service pop3-login {{\n  inet_listener pop3 {{\n    port = 0\n  }}\n}}\n\
             service lmtp {{\n  unix_listener lmtp {{\n    mode = 0666\n  }}\n}}\n"
        );
        let conf = t.join("dovecot.conf");
        std::fs::write(&conf, config).map_err(|e| e.to_string())?;
        let conf = conf.display().to_string();
        let child = Command::new(&binary)
            .args(["-F", "-c", &conf])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let server = Dovecot {
            port,
            tls_port,
            ca_file: t.join("ca.pem"),
            child,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let up = |p: u16| TcpStream::connect(("127.0.0.1", p)).is_ok();
            if up(port) && up(tls_port) {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log =
            std::fs::read_to_string(server.dir.path().join("dovecot.log")).unwrap_or_default();
        Err(format!("Dovecot did not start listening: {log}"))
    }

    /// A mailbox configuration for the test account.
    pub(crate) fn mailbox(&self, tls: ImapTls) -> MailboxConfig {
        MailboxConfig {
            host: if tls == ImapTls::None {
                "127.0.0.1".into()
            } else {
                "localhost".into()
            },
            port: if tls == ImapTls::Tls {
                self.tls_port
            } else {
                self.port
            },
            user: USER.into(),
            password: Secret(PASSWORD.into()),
            tls,
            ca_file: self.ca_file.display().to_string(),
            timeout_seconds: 20,
            ..MailboxConfig::default()
        }
    }

    /// A plain session of the test account (to set up and inspect folders).
    pub(crate) async fn session(&self) -> Session<AsyncTcp> {
        let tcp = AsyncTcp::connect(("127.0.0.1", self.port))
            .await
            .expect("connect to Dovecot");
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.expect("greeting");
        client
            .login(USER, PASSWORD)
            .await
            .map_err(|(e, _)| e)
            .expect("login")
    }

    /// The dovecot log so far (for failure messages).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Appends `messages` to `folder` (created when missing).
pub(crate) async fn append(session: &mut Session<AsyncTcp>, folder: &str, messages: &[Vec<u8>]) {
    let _ = session.create(folder).await;
    for message in messages {
        session
            .append(folder, None, None, message)
            .await
            .expect("APPEND");
    }
}

/// Messages in `folder`.
pub(crate) async fn count(session: &mut Session<AsyncTcp>, folder: &str) -> usize {
    let mailbox = session.examine(folder).await.expect("EXAMINE");
    while session.unsolicited_responses.try_recv().is_ok() {}
    mailbox.exists as usize
}
