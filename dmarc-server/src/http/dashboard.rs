//! The dashboard's files, embedded in the binary at build time (`build.rs`: `web/src` and
//! the distribution files of its npm packages): `/` is the page, `/assets/{name}` the rest.
//! Public (the page signs in through the API); gzip-compressed when the client takes it;
//! revalidated by their digest (`ETag`), so a new binary's files are never stale.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::error::ApiError;

include!(concat!(env!("OUT_DIR"), "/dashboard_files.rs"));

/// What the dashboard's pages may load: only this origin, no inline script or style.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The page (`GET /`).
pub async fn page(headers: HeaderMap) -> Response {
    file("index.html", &headers).unwrap_or_else(|e| e.into_response())
}

/// A file of the page (`GET /assets/{name}`).
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    if name == "index.html" {
        return ApiError::not_found("no such file").into_response();
    }
    file(&name, &headers).unwrap_or_else(|e| e.into_response())
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Each file's `ETag` (a digest of its bytes), in the order of [`DASHBOARD_FILES`],
/// computed once.
fn tags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        DASHBOARD_FILES
            .iter()
            .map(|(_, bytes, _)| format!("\"{}\"", hex::encode(&Sha256::digest(bytes)[..12])))
            .collect()
    })
}

fn file(name: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let index = DASHBOARD_FILES
        .iter()
        .position(|(file, _, _)| *file == name)
        .ok_or_else(|| ApiError::not_found("no such file"))?;
    let (_, bytes, gzip) = DASHBOARD_FILES[index];
    let tag = &tags()[index];
    let etag = HeaderValue::from_str(tag).map_err(|e| ApiError::internal(&e))?;
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == tag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else if accepts_gzip(headers) {
        (
            [(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))],
            gzip,
        )
            .into_response()
    } else {
        bytes.into_response()
    };
    let set = response.headers_mut();
    set.insert(header::ETAG, etag);
    set.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    set.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    set.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    set.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    Ok(response)
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_chart_js_are_embedded() {
        let names: Vec<&str> = DASHBOARD_FILES.iter().map(|(name, _, _)| *name).collect();
        assert!(names.contains(&"index.html"), "{names:?}");
        assert!(names.contains(&"chart.umd.min.js"), "{names:?}");
    }

    #[test]
    fn gzip_is_sent_only_to_clients_that_take_it() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(!with("br"));
        assert!(!with("gzip;q=0, br"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
