//! The dashboard's page and files as `dmarc serve` sends them: embedded, public, under a
//! Content-Security-Policy without inline script, gzip-compressed for clients that take it,
//! revalidated by digest.

mod support;

use std::io::Read;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderValue};
use support::server::*;

#[tokio::test]
async fn the_dashboard_is_served_from_the_binary() {
    let server = sqlite_server().await;
    let get = |path: &str, headers: &[(header::HeaderName, &str)]| {
        let mut request = server.http.get(format!("{}{path}", server.base));
        for (name, value) in headers {
            request = request.header(name, HeaderValue::from_str(value).expect("a value"));
        }
        request.send()
    };
    let page = get("/", &[]).await.expect("the page");
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let policy = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    let html = page.text().await.expect("html");
    assert!(html.contains("/assets/chart.umd.min.js"), "{html}");

    let plain = get("/assets/chart.umd.min.js", &[])
        .await
        .expect("chart.js");
    assert_eq!(plain.status(), StatusCode::OK);
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    let etag = plain.headers()[header::ETAG]
        .to_str()
        .expect("ascii")
        .to_owned();
    let plain = plain.bytes().await.expect("bytes");
    assert!(
        plain.starts_with(b"/*!\n * Chart.js v4"),
        "the distribution file"
    );
    let gzipped = get(
        "/assets/chart.umd.min.js",
        &[(header::ACCEPT_ENCODING, "gzip, br")],
    )
    .await
    .expect("chart.js, compressed");
    assert_eq!(gzipped.headers()[header::CONTENT_ENCODING], "gzip");
    let compressed = gzipped.bytes().await.expect("bytes");
    assert!(
        compressed.len() * 2 < plain.len(),
        "{} bytes",
        compressed.len()
    );
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut unpacked)
        .expect("gunzip");
    assert_eq!(unpacked, plain);

    let again = get(
        "/assets/chart.umd.min.js",
        &[(header::IF_NONE_MATCH, &etag)],
    )
    .await
    .expect("revalidation");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let missing = get("/assets/nothing.js", &[])
        .await
        .expect("a missing file");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = missing.json().await.expect("a JSON error");
    assert_eq!(body["error"]["code"], "not_found", "{body}");
}
