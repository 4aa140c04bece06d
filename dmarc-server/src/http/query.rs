//! The common query parameters of lists and rollups: the filter set, pagination, and the
//! trend window. Unknown parameters are refused, so a typo never silently widens a query.
//!
//! | parameter | values |
//! |---|---|
//! | `domain` | a policy domain; repeat it or separate with commas for several |
//! | `from`, `to` | `YYYY-MM-DD` (a whole UTC day: `to` includes it), RFC 3339 time, or epoch seconds |
//! | `preset` | `24h` (from the start of the hour a day ago), `7d`, `30d`, `90d`, `365d` (from midnight UTC that many days before today), `today`, `yesterday`, `all` |
//! | `source_ip` | an address or CIDR network, IPv4 or IPv6 |
//! | `dkim`, `spf` | `pass` or `fail` (aligned verdicts) |
//! | `disposition` | `none`, `quarantine`, `reject` |
//! | `org` | reporting organisation |
//! | `limit`, `offset` | pagination (lists) |
//! | `window` | moving-average days, or buckets (failure trend) |
//! | `bucket` | `day`, `week`, `month` or `auto` (timeline and failure trend) |

use axum::extract::{FromRequestParts, RawQuery};
use axum::http::request::Parts;
use dmarc_core::rollup::Bucket;
use dmarc_core::{Disposition, Filter};
use dmarc_store::Page;

use super::error::{ApiError, ApiResult};
use super::now;

/// The filter set as the OpenAPI description shows it; [`parse`] reads it (a test checks
/// that it accepts every parameter listed here).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// Policy domain; repeat or separate with commas.
    pub domain: Option<String>,
    /// Start: YYYY-MM-DD, RFC 3339 or epoch seconds.
    pub from: Option<String>,
    /// End (a date includes its day): YYYY-MM-DD, RFC 3339 or epoch seconds.
    pub to: Option<String>,
    /// 24h (from the start of the hour a day ago), 7d, 30d, 90d, 365d (from midnight UTC
    /// that many days before today), today, yesterday or all.
    pub preset: Option<String>,
    /// Address or CIDR network (IPv4 or IPv6).
    pub source_ip: Option<String>,
    /// Aligned DKIM verdict: pass or fail.
    pub dkim: Option<String>,
    /// Aligned SPF verdict: pass or fail.
    pub spf: Option<String>,
    /// Applied disposition: none, quarantine or reject.
    pub disposition: Option<String>,
    /// Reporting organisation.
    pub org: Option<String>,
}

/// Pagination as the OpenAPI description shows it.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page (1-1000).
    pub limit: Option<u32>,
    /// Items to skip.
    pub offset: Option<u64>,
}

/// The failure trend's window as the OpenAPI description shows it.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WindowParams {
    /// Moving-average window in points of the trend (days, weeks or months; 1-90, default
    /// 7).
    pub window: Option<u32>,
}

/// The time bucket of a timeline as the OpenAPI description shows it.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BucketParams {
    /// What one point covers: day, week (ISO, Monday to Sunday), month, or auto (the
    /// default: the smallest of those that keeps the period to at most 400 points).
    pub bucket: Option<String>,
}

/// Parsed query parameters.
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// The filter.
    pub filter: Filter,
    /// Pagination.
    pub page: Page,
    /// Moving-average window in days or buckets (failure trend), 1..=90.
    pub window: usize,
    /// What one point of a timeline covers; `None` is `auto` ([`Bucket::auto_for`]).
    pub bucket: Option<Bucket>,
}

/// Largest page a client may ask for.
pub const MAX_PAGE: u32 = 1000;
/// Longest domain list in one filter.
const MAX_DOMAINS: usize = 100;

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Params> {
        let RawQuery(query) = RawQuery::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        parse(query.as_deref().unwrap_or(""), now())
    }
}

/// Page size when no `limit` is given.
pub const DEFAULT_PAGE: u32 = 50;

/// The sources page's parameters: the common ones and `country`.
#[derive(Debug)]
pub struct SourceParams {
    /// The common parameters.
    pub params: Params,
    /// Only the addresses placed in this country (ISO 3166-1 alpha-2, upper case).
    pub country: Option<String>,
}

/// `country` as the OpenAPI description shows it.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountryParams {
    /// Only the addresses geolocation places in this country (ISO 3166-1 alpha-2 code,
    /// e.g. `US`; needs geolocation).
    pub country: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for SourceParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<SourceParams> {
        let RawQuery(query) = RawQuery::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let (countries, rest): (Vec<_>, Vec<_>) = pairs(query.as_deref().unwrap_or(""))?
            .into_iter()
            .partition(|(name, _)| name == "country");
        let country = match countries.last().map(|(_, v)| v.trim()) {
            None | Some("") => None,
            Some(code) if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Some(code.to_ascii_uppercase())
            }
            Some(other) => return Err(bad("country", other, "an ISO 3166-1 alpha-2 code")),
        };
        Ok(SourceParams {
            params: parse_pairs(&rest, now())?,
            country,
        })
    }
}

/// The records of a report's detail: `limit` (1..=1000, default 1000) and `offset` only;
/// other parameters are refused.
#[derive(Debug, Clone, Copy)]
pub struct RecordPage(pub Page);

impl<S: Send + Sync> FromRequestParts<S> for RecordPage {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<RecordPage> {
        let RawQuery(query) = RawQuery::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        page_only(query.as_deref().unwrap_or(""), MAX_PAGE).map(RecordPage)
    }
}

/// The page of a list that takes `limit` (`default` when absent) and `offset` only; other
/// parameters are refused.
pub(crate) fn page_only(query: &str, default: u32) -> ApiResult<Page> {
    let mut page = Page::first(default);
    for (name, value) in pairs(query)? {
        match name.as_str() {
            "limit" | "offset" => page_parameter(&mut page, &name, value.trim())?,
            other => return Err(unknown_parameter(other, "limit, offset")),
        }
    }
    Ok(page)
}

/// Applies a `limit` or `offset` parameter to `page`.
pub fn page_parameter(page: &mut Page, name: &str, value: &str) -> ApiResult<()> {
    if name == "limit" {
        page.limit = value
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| bad(name, value, "a number from 1 to 1000"))?;
    } else {
        page.offset = value
            .parse()
            .map_err(|_| bad(name, value, "a non-negative number"))?;
    }
    Ok(())
}

/// The `name=value` pairs of a query string (none when there is none), or a 400.
pub(crate) fn pairs(query: &str) -> ApiResult<Vec<(String, String)>> {
    serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::bad_request(format!("malformed query string: {e}")))
}

/// A 400 naming an unknown parameter and the known ones.
pub(crate) fn unknown_parameter(name: &str, known: &str) -> ApiError {
    let shown: String = name.chars().take(64).collect();
    ApiError::bad_request(format!(
        "unknown parameter {shown:?}; parameters are {known}"
    ))
}

/// A 400 naming a parameter, its value (cut to 64 characters) and what was expected.
pub(crate) fn bad(name: &str, value: &str, expected: &str) -> ApiError {
    let shown: String = value.chars().take(64).collect();
    ApiError::bad_request(format!("{name}={shown:?}: expected {expected}"))
}

/// Parses a query string; `now` anchors presets.
pub fn parse(query: &str, now: i64) -> ApiResult<Params> {
    parse_pairs(&pairs(query)?, now)
}

fn parse_pairs(pairs: &[(String, String)], now: i64) -> ApiResult<Params> {
    let mut params = Params {
        window: 7,
        page: Page::first(DEFAULT_PAGE),
        ..Params::default()
    };
    for (name, value) in pairs {
        let value = value.trim();
        let filter = &mut params.filter;
        match name.as_str() {
            "domain" => {
                for domain in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
                    filter.domains.push(domain.to_ascii_lowercase());
                }
                if filter.domains.len() > MAX_DOMAINS {
                    return Err(ApiError::bad_request(format!(
                        "at most {MAX_DOMAINS} domains per query"
                    )));
                }
            }
            "from" => {
                filter.from = Some(timestamp(value, false).ok_or_else(|| bad(name, value, TIME))?)
            }
            "to" => filter.to = Some(timestamp(value, true).ok_or_else(|| bad(name, value, TIME))?),
            "preset" => {
                let (from, to) = preset(value, now).ok_or_else(|| {
                    bad(
                        name,
                        value,
                        "24h, 7d, 30d, 90d, 365d, today, yesterday or all",
                    )
                })?;
                filter.from = from;
                filter.to = to;
            }
            "source_ip" => {
                filter.source_ip = Some(
                    value
                        .parse()
                        .map_err(|_| bad(name, value, "an IP address or CIDR network"))?,
                );
            }
            "dkim" | "spf" => {
                let verdict = value
                    .parse()
                    .map_err(|_| bad(name, value, "pass or fail"))?;
                if name == "dkim" {
                    filter.dkim = Some(verdict);
                } else {
                    filter.spf = Some(verdict);
                }
            }
            "disposition" => {
                filter.disposition = Some(match value.to_ascii_lowercase().as_str() {
                    "none" => Disposition::None,
                    "quarantine" => Disposition::Quarantine,
                    "reject" => Disposition::Reject,
                    _ => return Err(bad(name, value, "none, quarantine or reject")),
                });
            }
            "org" => filter.org = Some(value.to_owned()).filter(|o| !o.is_empty()),
            "limit" | "offset" => page_parameter(&mut params.page, name, value)?,
            "window" => {
                params.window = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=90).contains(n))
                    .ok_or_else(|| bad(name, value, "a number of days from 1 to 90"))?;
            }
            "bucket" => params.bucket = Bucket::choice(value).map_err(|e| bad(name, value, e))?,
            other => {
                return Err(unknown_parameter(
                    other,
                    "domain, from, to, preset, source_ip, dkim, spf, disposition, org, limit, \
                     offset, window, bucket",
                ));
            }
        }
    }
    if let (Some(from), Some(to)) = (params.filter.from, params.filter.to)
        && from >= to
    {
        return Err(ApiError::bad_request("`from` must be before `to`"));
    }
    Ok(params)
}

pub(crate) const TIME: &str = "YYYY-MM-DD, an RFC 3339 time or epoch seconds";
const DAY: i64 = 86_400;

fn number(text: &str, digits: usize) -> Option<i64> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// `YYYY-MM-DD` as its first second; `end_of_day` gives the first second of the next day
/// (so `to=2024-05-01` includes that day).
fn date(text: &str, end_of_day: bool) -> Option<i64> {
    let mut parts = text.split('-');
    let (y, m, d) = (
        number(parts.next()?, 4)?,
        number(parts.next()?, 2)?,
        number(parts.next()?, 2)?,
    );
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let day = dmarc_core::rollup::days_from_civil(y, m, d);
    // 2024-02-31 would silently become March: check it reads back.
    if dmarc_core::rollup::format_day(day) != text {
        return None;
    }
    Some((day + i64::from(end_of_day)) * DAY)
}

/// `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)` or epoch seconds.
pub(crate) fn timestamp(text: &str, end_of_day: bool) -> Option<i64> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(seconds);
    }
    if text.len() == 10 {
        return date(text, end_of_day);
    }
    let (day, time) = text.split_once(['T', 't', ' '])?;
    let day = date(day, false)?;
    let (clock, offset) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let split = time.rfind(['+', '-'])?;
        let (clock, zone) = time.split_at(split);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':')?;
        (clock, sign * (number(h, 2)? * 3600 + number(m, 2)? * 60))
    };
    let clock = clock.split_once('.').map_or(clock, |(whole, _)| whole);
    let mut hms = clock.split(':');
    let (h, m, s) = (
        number(hms.next()?, 2)?,
        number(hms.next()?, 2)?,
        number(hms.next()?, 2)?,
    );
    if hms.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(day + h * 3600 + m * 60 + s - offset)
}

/// The period of a preset: `(from, to)`. Day presets start at a midnight UTC (whole days
/// are answered from the pre-aggregates) and `24h` at the start of an hour, so a preset
/// names the same period, and the same cached answer, for a day or an hour.
fn preset(name: &str, now: i64) -> Option<(Option<i64>, Option<i64>)> {
    const HOUR: i64 = 3_600;
    let today = now.div_euclid(DAY) * DAY;
    Some(match name {
        "24h" => (Some(now.div_euclid(HOUR) * HOUR - DAY), None),
        "7d" => (Some(today - 7 * DAY), None),
        "30d" => (Some(today - 30 * DAY), None),
        "90d" => (Some(today - 90 * DAY), None),
        "365d" => (Some(today - 365 * DAY), None),
        "today" => (Some(today), None),
        "yesterday" => (Some(today - DAY), Some(today)),
        "all" => (None, None),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmarc_core::Verdict;

    #[test]
    fn every_filter_parameter() {
        let p = parse(
            "domain=Example.com,example.org&domain=x.net&from=2024-05-01&to=2024-05-02\
             &source_ip=2001:db8::/32&dkim=pass&spf=fail&disposition=reject&org=google.com\
             &limit=20&offset=40&window=14",
            0,
        )
        .unwrap();
        assert_eq!(p.filter.domains, ["example.com", "example.org", "x.net"]);
        assert_eq!(p.filter.from, Some(1_714_521_600));
        assert_eq!(p.filter.to, Some(1_714_694_400), "to includes its day");
        assert_eq!(p.filter.source_ip.unwrap().to_string(), "2001:db8::/32");
        assert_eq!(
            (p.filter.dkim, p.filter.spf),
            (Some(Verdict::Pass), Some(Verdict::Fail))
        );
        assert_eq!(p.filter.disposition, Some(Disposition::Reject));
        assert_eq!(p.filter.org.as_deref(), Some("google.com"));
        assert_eq!((p.page.limit, p.page.offset, p.window), (20, 40, 14));
    }

    #[test]
    fn times_and_presets() {
        assert_eq!(timestamp("1714521600", false), Some(1_714_521_600));
        assert_eq!(
            timestamp("2024-05-01T02:00:00Z", false),
            Some(1_714_528_800)
        );
        assert_eq!(
            timestamp("2024-05-01T04:00:00.5+02:00", false),
            Some(1_714_528_800)
        );
        assert_eq!(timestamp("2024-02-30", false), None);
        assert_eq!(timestamp("2024-05-01T25:00:00Z", false), None);
        let now = 1_714_528_800; // 2024-05-01 02:00 UTC
        let p = parse("preset=yesterday", now).unwrap();
        assert_eq!(
            (p.filter.from, p.filter.to),
            (Some(1_714_435_200), Some(1_714_521_600))
        );
        let p = parse("preset=7d", now).unwrap();
        assert_eq!(
            (p.filter.from, p.filter.to),
            (Some(1_714_521_600 - 7 * DAY), None)
        );
        let p = parse("preset=24h", now).unwrap();
        assert_eq!(p.filter.from, Some(now - DAY), "now is on the hour");
        let p = parse("preset=24h", now + 1_799).unwrap();
        assert_eq!(p.filter.from, Some(now - DAY), "the start of the hour");
    }

    #[test]
    fn bad_values_are_named() {
        for (query, expected) in [
            ("dkim=maybe", "dkim=\"maybe\": expected pass or fail"),
            ("source_ip=300.1.1.1", "source_ip=\"300.1.1.1\""),
            ("limit=0", "limit=\"0\""),
            ("limit=5000", "limit=\"5000\""),
            ("from=yesterday", "from=\"yesterday\""),
            ("domian=x", "unknown parameter \"domian\""),
            (
                "from=2024-05-02&to=2024-05-01",
                "`from` must be before `to`",
            ),
        ] {
            let e = parse(query, 0).unwrap_err();
            assert!(e.message.contains(expected), "{query}: {}", e.message);
            assert_eq!(e.status, 400);
        }
    }
}
