//! Posting an alert to a webhook (Teams, Slack, Discord) over HTTPS, with TLS on ring and
//! the Mozilla roots, a time limit, and the receiver's answer reported (never the URL: it
//! is a secret).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// How long a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(15);

/// What a receiver answered, or why nothing was sent (webhooks and e-mail alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The HTTP status, or the SMTP reply code, when the receiver answered.
    pub status: Option<u16>,
    /// Why it did not count as delivered (the status, or the transport error).
    pub error: Option<String>,
}

/// An HTTP client for webhooks.
pub fn client() -> reqwest::Result<reqwest::Client> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    let builder = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    let builder = match tls {
        Ok(tls) => builder.tls_backend_preconfigured(tls),
        Err(_) => builder,
    };
    builder.build()
}

/// Posts `body` as JSON to `url`: delivered on a 2xx answer.
pub async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Sent {
    match client.post(url).json(body).send().await {
        Ok(response) => {
            let status = response.status();
            Sent {
                status: Some(status.as_u16()),
                error: (!status.is_success()).then(|| format!("the receiver answered {status}")),
            }
        }
        // reqwest's errors name the URL: keep only what went wrong.
        Err(e) => Sent {
            status: None,
            error: Some(e.without_url().to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A one-request HTTP receiver on 127.0.0.1 answering `status`: its address, and the
    /// request it got.
    async fn receiver(status: u16) -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/hook/secret-token",
            listener.local_addr().unwrap()
        );
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = socket.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
            }
            let answer =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            socket.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        (url, task)
    }

    #[tokio::test]
    async fn a_webhook_gets_the_json_and_its_answer_counts() {
        let client = client().unwrap();
        let (url, request) = receiver(200).await;
        let sent = post(&client, &url, &json!({ "text": "hello" })).await;
        assert_eq!(
            sent,
            Sent {
                status: Some(200),
                error: None
            }
        );
        let request = request.await.unwrap();
        assert!(
            request.starts_with("POST /hook/secret-token HTTP/1.1"),
            "{request}"
        );
        assert!(
            request
                .to_ascii_lowercase()
                .contains("content-type: application/json")
        );
        assert!(request.ends_with(r#"{"text":"hello"}"#), "{request}");

        let (url, _) = receiver(500).await;
        let failed = post(&client, &url, &json!({})).await;
        assert_eq!(failed.status, Some(500));
        assert!(failed.error.unwrap().contains("500"));

        // Nobody listening: the error does not name the secret URL.
        let refused = post(&client, "http://127.0.0.1:9/hook/secret-token", &json!({})).await;
        assert_eq!(refused.status, None);
        let error = refused.error.unwrap();
        assert!(!error.contains("secret-token"), "{error}");
    }
}
