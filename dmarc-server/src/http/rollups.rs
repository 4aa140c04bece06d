//! The dashboard rollups (`/api/rollup/...`) and the sources page (`/api/sources`), each
//! answered from the response cache when it holds the answer for the current data.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use dmarc_core::rollup::{
    self, AlignmentBreakdown, DayBucket, DispositionBreakdown, EnforcementImpact, Group,
    PolicyCompliance, SourceGroup, Summary, TrendPoint,
};
use serde::Serialize;

use super::auth::Caller;
use super::error::{ApiError, ApiResult, ReadErrors};
use super::query::{Params, SourceParams};
use super::{AppState, Heavy};

/// `GET /api/rollup/summary`.
#[utoipa::path(
    get,
    path = "/api/rollup/summary",
    tag = "rollups",
    summary = "Headline figures",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "OK", body = Summary),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "summary",
        &params,
        state.store.summary(&params.filter),
    )
    .await
}

/// `GET /api/rollup/sources`: messages per source address, most first, paginated.
#[utoipa::path(
    get,
    path = "/api/rollup/sources",
    tag = "rollups",
    summary = "Messages per source address, most first",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams, super::query::PageParams),
    responses(
        (status = 200, description = "OK", body = dmarc_store::Paged<SourceGroup>),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn sources(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "sources",
        &params,
        state.store.by_source(&params.filter, params.page),
    )
    .await
}

/// A source address with what it did in the filtered reports.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct SourceDetail {
    /// The address; absent for records without a usable one.
    #[schema(value_type = Option<String>)]
    source_ip: Option<std::net::IpAddr>,
    /// Messages by outcome.
    #[serde(flatten)]
    tally: rollup::Tally,
    /// What the address did; absent for records without an address.
    activity: Option<SourceActivity>,
    /// Where the address is and its network, as placed at ingest (absent: not placed).
    location: Option<dmarc_core::GeoInfo>,
    /// What the address is for each policy domain it sent for (aligned sender, known
    /// service not aligned, forwarder, unknown), the service behind it and the evidence,
    /// most messages first.
    senders: Vec<dmarc_core::senders::Identification>,
}

/// What an address did in the filtered reports.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct SourceActivity {
    /// Messages quarantined.
    quarantined: u64,
    /// Messages rejected.
    rejected: u64,
    /// Distinct `header_from` domains it sent as.
    header_from_domains: u64,
    /// Distinct reporting organisations that saw it.
    reporters: u64,
    /// Distinct UTC days on which report periods that include it begin.
    days_active: u64,
    /// Earliest report period start that includes it (UTC seconds).
    first_seen: i64,
    /// Latest report period end that includes it (UTC seconds).
    last_seen: i64,
}

impl From<rollup::SourceActivity> for SourceActivity {
    fn from(a: rollup::SourceActivity) -> Self {
        SourceActivity {
            quarantined: a.quarantined,
            rejected: a.rejected,
            header_from_domains: a.header_from_domains,
            reporters: a.reporters,
            days_active: a.days_active,
            first_seen: a.first_seen,
            last_seen: a.last_seen,
        }
    }
}

/// `GET /api/sources`: a page of source addresses, most messages first, each with its
/// pass rates, first and last seen, reporters and dispositions, where it is, and who
/// sends through it.
#[utoipa::path(
    get,
    path = "/api/sources",
    tag = "rollups",
    summary = "Source addresses, most messages first, with first and last seen, reporters, dispositions, place and sender identification",
    description = "Any role; access token or API key. The ranking comes from the pre-aggregates; the details of the page's addresses from their records. `country` keeps the addresses geolocation placed in that country. `senders` classifies the address for each policy domain: `aligned_sender` (at least half of its messages pass DMARC), `forwarder` (forwarding or ARC overrides reported, or most messages pass DKIM for another domain only), `known_service_not_aligned` (a service of the sender table by its DKIM domain or network: a configuration to fix) or `unknown`.",
    params(super::query::FilterParams, super::query::CountryParams, super::query::PageParams),
    responses(
        (status = 200, description = "OK", body = dmarc_store::Paged<SourceDetail>),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn source_details(
    State(state): State<AppState>,
    caller: Caller,
    SourceParams { params, country }: SourceParams,
) -> ApiResult<Response> {
    let store = &state.store;
    let compute = async {
        let page = match &country {
            Some(country) => {
                store
                    .sources_in_country(&params.filter, country, params.page)
                    .await?
            }
            None => store.by_source(&params.filter, params.page).await?,
        };
        let ips: Vec<_> = page.items.iter().filter_map(|g| g.source_ip).collect();
        let mut activity: std::collections::HashMap<_, _> = store
            .activity_of(&params.filter, &ips)
            .await?
            .into_iter()
            .map(|a| (a.source_ip, a))
            .collect();
        let mut places = store.places(&ips).await?;
        let evidence = store.sender_evidence(&params.filter, &ips).await?;
        let mut senders = state
            .senders
            .identify_all(evidence, |ip| places.get(&ip).and_then(|p| p.info.asn));
        Ok(page.map(|group| {
            let ip = group.source_ip;
            SourceDetail {
                source_ip: ip,
                tally: group.tally,
                activity: ip
                    .and_then(|ip| activity.remove(&ip))
                    .map(SourceActivity::from),
                location: ip.and_then(|ip| places.remove(&ip)).map(|p| p.info),
                senders: ip.and_then(|ip| senders.remove(&ip)).unwrap_or_default(),
            }
        }))
    };
    let name = format!("source-details {country:?}");
    cached(&state, &caller, &name, &params, compute).await
}

/// `GET /api/rollup/by-domain`.
#[utoipa::path(
    get,
    path = "/api/rollup/by-domain",
    tag = "rollups",
    summary = "Messages per policy domain",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "OK", body = [Group]),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn by_domain(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "by_domain",
        &params,
        state.store.by_domain(&params.filter),
    )
    .await
}

/// `GET /api/rollup/organizations`.
#[utoipa::path(
    get,
    path = "/api/rollup/organizations",
    tag = "rollups",
    summary = "Messages per reporting organisation",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "OK", body = [Group]),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn organizations(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "organizations",
        &params,
        state.store.by_organization(&params.filter),
    )
    .await
}

/// `GET /api/rollup/disposition`.
#[utoipa::path(
    get,
    path = "/api/rollup/disposition",
    tag = "rollups",
    summary = "Messages by applied disposition",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "OK", body = DispositionBreakdown),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn disposition(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "disposition",
        &params,
        state.store.disposition_breakdown(&params.filter),
    )
    .await
}

/// `GET /api/rollup/alignment`.
#[utoipa::path(
    get,
    path = "/api/rollup/alignment",
    tag = "rollups",
    summary = "Messages by aligned DKIM x aligned SPF",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "OK", body = AlignmentBreakdown),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn alignment(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "alignment",
        &params,
        state.store.alignment_breakdown(&params.filter),
    )
    .await
}

/// `GET /api/rollup/compliance`.
#[utoipa::path(
    get,
    path = "/api/rollup/compliance",
    tag = "rollups",
    summary = "DMARC compliance and the treatment of failures",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "OK", body = PolicyCompliance),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn compliance(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "compliance",
        &params,
        state.store.policy_compliance(&params.filter),
    )
    .await
}

/// `GET /api/rollup/enforcement`.
#[utoipa::path(
    get,
    path = "/api/rollup/enforcement",
    tag = "rollups",
    summary = "Per domain: failing messages delivered (what p=reject would stop), their source addresses, and the policy in force",
    description = "Any role; access token or API key. Most failing delivered messages first.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "OK", body = [EnforcementImpact]),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn enforcement(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(
        &state,
        &caller,
        "enforcement",
        &params,
        state.store.enforcement_impact(&params.filter),
    )
    .await
}

/// `GET /api/rollup/timeline`.
#[utoipa::path(
    get,
    path = "/api/rollup/timeline",
    tag = "rollups",
    summary = "Messages per day, week or month of the selected period (bucket=auto keeps it to about 400 points; every bucket when the period spans at most ten years, else those with messages)",
    description = "Any role; access token or API key.",
    params(super::query::FilterParams, super::query::BucketParams),
    responses(
        (status = 200, description = "OK", body = [DayBucket]),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(&state, &caller, "timeline", &params, async {
        let days = state.store.timeline(&params.filter).await?;
        Ok(rollup::in_buckets(&days, &params.filter, params.bucket).0)
    })
    .await
}

/// `GET /api/rollup/failure-trend`: daily failure rate and its `window`-day average.
#[utoipa::path(
    get,
    path = "/api/rollup/failure-trend",
    tag = "rollups",
    summary = "Failure rate per day, week or month, with a moving average over `window` points",
    description = "Any role; access token or API key.",
    params(
        super::query::FilterParams,
        super::query::WindowParams,
        super::query::BucketParams
    ),
    responses(
        (status = 200, description = "OK", body = [TrendPoint]),
        ReadErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn failure_trend(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    cached(&state, &caller, "failure_trend", &params, async {
        let days = state.store.timeline(&params.filter).await?;
        let (points, bucket) = rollup::in_buckets(&days, &params.filter, params.bucket);
        Ok(rollup::trend_over_buckets(&points, bucket, params.window))
    })
    .await
}

/// Answers from the cache when it holds this rollup's answer for these parameters in the
/// current data generation; otherwise computes the answer, keeps it and answers it.
pub(super) async fn cached<T: Serialize>(
    state: &AppState,
    caller: &Caller,
    rollup: &str,
    params: &Params,
    compute: impl std::future::Future<Output = Result<T, dmarc_store::StoreError>>,
) -> ApiResult<Response> {
    let json = |body: Bytes| ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    let slot = if state.cache.enabled() {
        let generation = state.store.data_generation().await?;
        let key = format!("{rollup} {params:?}");
        if let Some(body) = state.cache.get(generation, &key) {
            state.metrics.cache(true);
            return Ok(json(body));
        }
        // Requests missing the same answer meanwhile wait for this one, then find it.
        let place = state.cache.flight(&key).await;
        if let Some(body) = state.cache.get(generation, &key) {
            state.metrics.cache(true);
            return Ok(json(body));
        }
        state.metrics.cache(false);
        Some((generation, key, place))
    } else {
        None
    };
    // Only a computed answer takes one of the caller's expensive-read slots.
    let heavy = Heavy::enter(state, caller.clone())?;
    let value = compute.await?;
    drop(heavy);
    let body = Bytes::from(serde_json::to_vec(&value).map_err(|e| ApiError::internal(&e))?);
    if let Some((generation, key, place)) = slot {
        state.cache.put(generation, key, body.clone());
        drop(place);
    }
    Ok(json(body))
}
