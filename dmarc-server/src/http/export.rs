//! CSV exports (`/api/export/{reports,records,sources}/csv`): streamed page by page, so an
//! export of millions of records holds one page in memory; the common filters; cells that
//! a spreadsheet would read as a formula are neutralised.

use std::borrow::Cow;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use dmarc_core::Filter;
use dmarc_core::rollup::format_day;
use dmarc_store::{Page, Role, Store};

use crate::pdf;

use super::auth::Caller;
use super::error::{ApiError, ApiResult, ExportErrors};
use super::query::Params;
use super::{AppState, Heavy};

/// Rows fetched per query.
const PAGE: u32 = 1000;

/// What is exported.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Reports,
    Records,
    Sources,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Reports => "reports",
            Kind::Records => "records",
            Kind::Sources => "sources",
        }
    }

    fn header(self) -> &'static [&'static str] {
        match self {
            Kind::Reports => &[
                "id",
                "org_name",
                "report_id",
                "domain",
                "begin",
                "end",
                "records",
                "messages",
                "dmarc_pass",
                "dmarc_fail",
                "diagnostics",
                "conflict_with",
                "ingested_at",
            ],
            Kind::Records => &[
                "report",
                "org_name",
                "report_id",
                "domain",
                "begin",
                "end",
                "source_ip",
                "count",
                "disposition",
                "dkim",
                "spf",
                "dkim_aligned",
                "spf_aligned",
                "header_from",
                "envelope_from",
                "envelope_to",
            ],
            Kind::Sources => &[
                "source_ip",
                "messages",
                "dmarc_pass",
                "dmarc_fail",
                "dkim_aligned_pass",
                "spf_aligned_pass",
            ],
        }
    }
}

/// Where the next page starts.
#[derive(Debug, Clone, Copy)]
enum Cursor {
    Offset(u64),
    After(Option<(i64, i64)>),
}

/// A cell as written: text a spreadsheet would evaluate gets a leading apostrophe, which
/// spreadsheets show as text. That is a cell starting with a tab or carriage return, or
/// whose first character after any Unicode white space (no-break space included) is
/// `= + - @ |` or a fullwidth `＝ ＋ － ＠`, which some spreadsheets read as the ASCII ones.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    let first = cell.trim_start_matches(char::is_whitespace).chars().next();
    let formula = matches!(
        first,
        Some('=' | '+' | '-' | '@' | '|' | '\u{FF1D}' | '\u{FF0B}' | '\u{FF0D}' | '\u{FF20}')
    );
    if formula || cell.starts_with(['\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// UTC seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn iso_time(seconds: i64) -> String {
    let (day, second) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        format_day(day),
        second / 3600,
        second / 60 % 60,
        second % 60
    )
}

fn text(value: Option<&str>) -> String {
    value.unwrap_or_default().to_owned()
}

fn verdict(pass: bool) -> String {
    if pass { "pass" } else { "fail" }.to_owned()
}

/// One page of rows and where the next starts (`None`: this was the last).
async fn page(
    store: &Store,
    kind: Kind,
    filter: &Filter,
    cursor: Cursor,
) -> dmarc_store::Result<(Vec<Vec<String>>, Option<Cursor>)> {
    let full = |n: usize| n == PAGE as usize;
    match (kind, cursor) {
        (Kind::Reports, Cursor::Offset(offset)) => {
            let page = store
                .reports(
                    filter,
                    Page {
                        limit: PAGE,
                        offset,
                    },
                )
                .await?;
            let next = full(page.items.len()).then_some(Cursor::Offset(offset + u64::from(PAGE)));
            let rows = page
                .items
                .into_iter()
                .map(|r| {
                    vec![
                        r.id.to_string(),
                        r.org_name,
                        r.report_id,
                        r.domain,
                        iso_time(r.begin),
                        iso_time(r.end),
                        r.records.to_string(),
                        r.messages.to_string(),
                        r.dmarc_pass.to_string(),
                        r.messages.saturating_sub(r.dmarc_pass).to_string(),
                        r.diagnostics.to_string(),
                        r.conflict_with.map(|c| c.to_string()).unwrap_or_default(),
                        iso_time(r.ingested_at),
                    ]
                })
                .collect();
            Ok((rows, next))
        }
        (Kind::Sources, Cursor::Offset(offset)) => {
            let page = store
                .by_source(
                    filter,
                    Page {
                        limit: PAGE,
                        offset,
                    },
                )
                .await?;
            let next = full(page.items.len()).then_some(Cursor::Offset(offset + u64::from(PAGE)));
            let rows = page
                .items
                .into_iter()
                .map(|s| {
                    vec![
                        s.source_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                        s.tally.messages.to_string(),
                        s.tally.dmarc_pass.to_string(),
                        s.tally.dmarc_fail.to_string(),
                        s.tally.dkim_aligned_pass.to_string(),
                        s.tally.spf_aligned_pass.to_string(),
                    ]
                })
                .collect();
            Ok((rows, next))
        }
        (Kind::Records, Cursor::After(after)) => {
            let records = store.export_records(filter, after, PAGE).await?;
            let next = records
                .last()
                .filter(|_| full(records.len()))
                .map(|last| Cursor::After(Some((last.report, last.ord))));
            let rows = records
                .into_iter()
                .map(|x| {
                    vec![
                        x.report.to_string(),
                        x.org_name,
                        x.report_id,
                        x.domain,
                        iso_time(x.begin),
                        iso_time(x.end),
                        text(x.source_ip.as_deref()),
                        x.count.to_string(),
                        text(x.disposition.as_deref()),
                        text(x.dkim.as_deref()),
                        text(x.spf.as_deref()),
                        verdict(x.dkim_aligned),
                        verdict(x.spf_aligned),
                        text(x.header_from.as_deref()),
                        text(x.envelope_from.as_deref()),
                        text(x.envelope_to.as_deref()),
                    ]
                })
                .collect();
            Ok((rows, next))
        }
        _ => Ok((Vec::new(), None)),
    }
}

/// CSV text of `rows`, every cell neutralised.
fn encode<S: AsRef<str>>(rows: &[Vec<S>]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.write_record(
            row.iter()
                .map(|cell| neutralise(cell.as_ref()).into_owned()),
        )?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// Exports need the analyst role and stay within `per_minute` per user for each `format`.
fn allow_export(state: &AppState, caller: &Caller, format: &str, per_minute: u32) -> ApiResult<()> {
    caller.require(Role::Analyst)?;
    state
        .limiter
        .check(&format!("{format}:{}", caller.user.id), per_minute)
        .map_err(ApiError::rate_limited)
}

async fn export(state: AppState, heavy: Heavy, params: Params, kind: Kind) -> ApiResult<Response> {
    let Heavy { caller, guard } = heavy;
    let caller = &caller;
    allow_export(
        &state,
        caller,
        "csv",
        state.config.limits.csv_exports_per_minute,
    )?;
    let header = encode(&[kind.header().to_vec()]).map_err(|e| ApiError::internal(&e))?;
    let start = match kind {
        Kind::Records => Cursor::After(None),
        Kind::Reports | Kind::Sources => Cursor::Offset(0),
    };
    let filter = params.filter;
    state
        .audit(caller.audit(
            "export.csv",
            Some(kind.name().to_owned()),
            serde_json::json!({ "filter": &filter }),
        ))
        .await;
    // The guard travels with the stream: the export counts as running until it is sent.
    let body = futures_util::stream::unfold(
        (state, filter, Some(start), guard),
        move |(state, filter, cursor, guard)| async move {
            let cursor = cursor?;
            let chunk = match page(&state.store, kind, &filter, cursor).await {
                Ok((rows, next)) => match encode(&rows) {
                    Ok(bytes) => Ok((Bytes::from(bytes), next)),
                    Err(e) => Err(std::io::Error::other(e)),
                },
                Err(e) => {
                    // The status is already sent: end the transfer so the client sees a
                    // broken download, not a complete-looking short file.
                    tracing::error!(error = %e, export = kind.name(), "CSV export failed");
                    Err(std::io::Error::other("export failed"))
                }
            };
            match chunk {
                Ok((bytes, next)) => Some((Ok(bytes), (state, filter, next, guard))),
                Err(e) => Some((Err(e), (state, filter, None, guard))),
            }
        },
    );
    let first =
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(header)) });
    let stream = futures_util::StreamExt::chain(first, body);
    let filename = format!("attachment; filename=\"dmarc-{}.csv\"", kind.name());
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `GET /api/export/reports/csv` (analyst).
#[utoipa::path(
    get,
    path = "/api/export/reports/csv",
    tag = "exports",
    summary = "Reports as CSV (streamed; 10 per minute)",
    description = "Analyst or admin; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "CSV, streamed", body = String, content_type = "text/csv"),
        ExportErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn reports(
    State(state): State<AppState>,
    heavy: Heavy,
    params: Params,
) -> ApiResult<Response> {
    export(state, heavy, params, Kind::Reports).await
}

/// `GET /api/export/records/csv` (analyst).
#[utoipa::path(
    get,
    path = "/api/export/records/csv",
    tag = "exports",
    summary = "Records as CSV (streamed; 10 per minute)",
    description = "Analyst or admin; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "CSV, streamed", body = String, content_type = "text/csv"),
        ExportErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn records(
    State(state): State<AppState>,
    heavy: Heavy,
    params: Params,
) -> ApiResult<Response> {
    export(state, heavy, params, Kind::Records).await
}

/// `GET /api/export/sources/csv` (analyst).
#[utoipa::path(
    get,
    path = "/api/export/sources/csv",
    tag = "exports",
    summary = "Source addresses as CSV (streamed; 10 per minute)",
    description = "Analyst or admin; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "CSV, streamed", body = String, content_type = "text/csv"),
        ExportErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn sources(
    State(state): State<AppState>,
    heavy: Heavy,
    params: Params,
) -> ApiResult<Response> {
    export(state, heavy, params, Kind::Sources).await
}

/// `GET /api/export/report/pdf` (analyst): the PDF summary of the filtered data.
#[utoipa::path(
    get,
    path = "/api/export/report/pdf",
    tag = "exports",
    summary = "PDF summary: headline figures, charts, top domains, organisations and sources (5 per minute)",
    description = "Analyst or admin; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "A PDF document", body = String, content_type = "application/pdf"),
        ExportErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn report_pdf(
    State(state): State<AppState>,
    heavy: Heavy,
    params: Params,
) -> ApiResult<Response> {
    let caller = &heavy.caller;
    allow_export(
        &state,
        caller,
        "pdf",
        state.config.limits.pdf_exports_per_minute,
    )?;
    let filter = params.filter;
    let store = &state.store;
    let top = Page::first(pdf::TOP_ROWS);
    let (summary, timeline, disposition, alignment, compliance, domains, organizations, sources) =
        tokio::try_join!(
            store.summary(&filter),
            store.timeline(&filter),
            store.disposition_breakdown(&filter),
            store.alignment_breakdown(&filter),
            store.policy_compliance(&filter),
            store.by_domain(&filter),
            store.by_organization(&filter),
            store.by_source(&filter, top),
        )?;
    state
        .audit(caller.audit("export.pdf", None, serde_json::json!({ "filter": &filter })))
        .await;
    let data = pdf::ReportData {
        filter,
        generated_at: super::now(),
        summary,
        timeline,
        disposition,
        alignment,
        compliance,
        domains,
        organizations,
        source_count: sources.total,
        sources: sources.items,
    };
    let document = tokio::task::spawn_blocking(move || pdf::render(&data))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"dmarc-summary.pdf\"",
            ),
        ],
        document,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for cell in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(cell), format!("'{cell}"));
        }
        // After leading Unicode white space, fullwidth signs, and a pipe (DDE).
        for cell in [
            "\u{A0}=1+1",
            " \u{3000}=1",
            "\u{FF1D}1+1",
            "\u{FF0B}1",
            "\u{FF0D}1",
            "\u{FF20}A1",
            "|cmd",
            "\n=1",
        ] {
            assert_eq!(neutralise(cell), format!("'{cell}"), "{cell:?}");
        }
        assert_eq!(neutralise("example.com"), "example.com");
        assert_eq!(neutralise(" a=1"), " a=1");
        assert_eq!(neutralise(""), "");
        let csv = encode(&[vec!["=cmd|' /C calc'!A0", "a,b", "say \"hi\""]]).unwrap();
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "'=cmd|' /C calc'!A0,\"a,b\",\"say \"\"hi\"\"\"\n"
        );
    }

    #[test]
    fn times_are_iso() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_time(1_714_528_800 + 61), "2024-05-01T02:01:01Z");
    }
}
