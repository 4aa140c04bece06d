//! Sending e-mail (alerts, digests, channel tests) over SMTP with lettre: STARTTLS
//! (`smtp://`, required, never skipped), TLS from the first byte (`smtps://`), or, only when
//! asked with `?tls=none`, plain SMTP to a relay on the same host. TLS runs on rustls with
//! ring and the Mozilla roots, plus the CA in `alerts.smtp_ca_file` when set. Errors never
//! name the URL (it holds the password).

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::messages::Email;
use super::webhooks::Sent;
use crate::config::AlertsConfig;

/// How long the SMTP server may take for each step.
const TIMEOUT: Duration = Duration::from_secs(30);

/// How to protect the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    Starttls,
    Tls,
    Plain,
}

/// The transport `config.smtp_url` describes.
fn transport(config: &AlertsConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let raw = config
        .address("email")
        .ok_or("the email channel is not configured (alerts.smtp_url)")?;
    let url = reqwest::Url::parse(raw).map_err(|e| format!("alerts.smtp_url is not a URL: {e}"))?;
    let tls_param = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let security = match (url.scheme(), tls_param.as_deref()) {
        ("smtps", None) => Security::Tls,
        ("smtp", None | Some("required")) => Security::Starttls,
        ("smtp", Some("none")) => Security::Plain,
        (scheme, tls) => {
            return Err(format!(
                "alerts.smtp_url: {scheme}:// with tls={} is not supported (smtp:// is STARTTLS, smtps:// is TLS, smtp://...?tls=none is plain)",
                tls.unwrap_or("")
            ));
        }
    };
    let host = url.host_str().ok_or("alerts.smtp_url has no host")?;
    // A bracketed IPv6 address is named without its brackets in the certificate.
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port().unwrap_or(match security {
        Security::Tls => 465,
        Security::Starttls => 587,
        Security::Plain => 25,
    });
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
        .port(port)
        .timeout(Some(TIMEOUT));
    if security != Security::Plain {
        let mut tls = TlsParameters::builder(host).certificate_store(CertificateStore::WebpkiRoots);
        if !config.smtp_ca_file.is_empty() {
            let pem = std::fs::read(&config.smtp_ca_file).map_err(|e| {
                format!(
                    "cannot read alerts.smtp_ca_file {}: {e}",
                    config.smtp_ca_file
                )
            })?;
            let ca = Certificate::from_pem(&pem)
                .map_err(|e| format!("alerts.smtp_ca_file {}: {e}", config.smtp_ca_file))?;
            tls = tls.add_root_certificate(ca);
        }
        let tls = tls
            .build_rustls()
            .map_err(|e| format!("TLS set-up for SMTP: {e}"))?;
        builder = builder.tls(match security {
            Security::Tls => Tls::Wrapper(tls),
            _ => Tls::Required(tls),
        });
    }
    if !url.username().is_empty() {
        let decode = |s: &str| {
            percent_decode(s).ok_or("alerts.smtp_url: the user or password is not valid UTF-8")
        };
        builder = builder.credentials(Credentials::new(
            decode(url.username())?,
            decode(url.password().unwrap_or(""))?,
        ));
    }
    Ok(builder.build())
}

/// `%XX` sequences decoded (user names and passwords in URLs are percent-encoded).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The message of `email` from `alerts.email_from` to `recipients`: plain text and HTML.
fn message(config: &AlertsConfig, recipients: &[&str], email: &Email) -> Result<Message, String> {
    let mailbox = |text: &str, what: &str| {
        text.parse::<Mailbox>()
            .map_err(|e| format!("{what} {text:?} is not an e-mail address: {e}"))
    };
    let mut builder = Message::builder()
        .from(mailbox(&config.email_from, "alerts.email_from")?)
        .subject(email.subject.clone());
    for recipient in recipients {
        builder = builder.to(mailbox(recipient, "alerts.email_to")?);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            email.html.clone(),
        ))
        .map_err(|e| format!("cannot build the e-mail: {e}"))
}

/// Sends `email` to `recipients` (the configured ones when empty): delivered when the
/// server accepted it for every recipient; `status` is the server's SMTP reply code.
pub async fn send(config: &AlertsConfig, recipients: &[&str], email: &Email) -> Sent {
    let configured = config.recipients();
    let recipients = if recipients.is_empty() {
        configured.as_slice()
    } else {
        recipients
    };
    let prepared = transport(config).and_then(|t| Ok((t, message(config, recipients, email)?)));
    let (transport, message) = match prepared {
        Ok(ready) => ready,
        Err(error) => {
            return Sent {
                status: None,
                error: Some(error),
            };
        }
    };
    let code = |c: lettre::transport::smtp::response::Code| c.to_string().parse::<u16>().ok();
    match transport.send(message).await {
        Ok(response) => Sent {
            status: code(response.code()),
            error: None,
        },
        Err(e) => Sent {
            status: e.status().and_then(code),
            error: Some(format!("SMTP: {e}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn config(url: &str) -> AlertsConfig {
        AlertsConfig {
            smtp_url: Secret(url.into()),
            email_from: "dmarc@example.com".into(),
            email_to: "a@example.com, b@example.com".into(),
            ..AlertsConfig::default()
        }
    }

    #[test]
    fn the_url_says_how_to_connect() {
        for good in [
            "smtp://u:p@mail.example",
            "smtp://mail.example:2525?tls=required",
            "smtps://u%40x:p%3Aw@mail.example",
            "smtp://127.0.0.1:25?tls=none",
        ] {
            assert!(transport(&config(good)).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("smtps://mail.example?tls=none", "not supported"),
            ("smtp://mail.example?tls=opportunistic", "not supported"),
            ("smtp://", "no host"),
            ("", "not configured"),
        ] {
            let error = transport(&config(bad)).err().unwrap();
            assert!(error.contains(why), "{bad}: {error}");
        }
        let mut with_ca = config("smtp://mail.example");
        with_ca.smtp_ca_file = "/nonexistent/ca.pem".into();
        let error = transport(&with_ca).err().unwrap();
        assert!(error.contains("cannot read alerts.smtp_ca_file"), "{error}");
    }

    #[test]
    fn percent_encoded_credentials_are_decoded() {
        assert_eq!(percent_decode("u%40x").as_deref(), Some("u@x"));
        assert_eq!(percent_decode("p%3Aw%").as_deref(), Some("p:w%"));
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn a_message_has_both_parts_and_refuses_bad_addresses() {
        let email = Email {
            subject: "s".into(),
            text: "plain".into(),
            html: "<p>html</p>".into(),
        };
        let c = config("smtp://mail.example");
        let built =
            String::from_utf8(message(&c, &c.recipients(), &email).unwrap().formatted()).unwrap();
        assert!(built.contains("multipart/alternative"), "{built}");
        assert!(
            built.contains("To: a@example.com, b@example.com"),
            "{built}"
        );
        let mut wrong = c.clone();
        wrong.email_from = "not an address".into();
        let error = message(&wrong, &["a@example.com"], &email).unwrap_err();
        assert!(error.contains("alerts.email_from"), "{error}");
    }
}
