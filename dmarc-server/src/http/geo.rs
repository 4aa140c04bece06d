//! Geolocation over HTTP: messages per country (the map) and what is known of one address.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use dmarc_core::senders::ServiceMatch;
use dmarc_core::{Filter, GeoInfo, GeoLookup};
use dmarc_store::CountryTally;
use serde::Serialize;

use super::auth::Caller;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::query::Params;
use super::{AppState, Heavy};
use crate::geo::{DatabaseInfo, Geo};

/// Geolocation, or a 409 saying why there is none.
fn geo(state: &AppState) -> ApiResult<&Arc<Geo>> {
    state.jobs.geo().map_err(ApiError::conflict)
}

/// Messages per country of the source addresses.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CountryMap {
    /// Per country, most messages first; addresses not placed (private, unknown to the
    /// databases, or not looked up yet) are the row without a country.
    pub countries: Vec<CountryTally>,
    /// The databases places come from, with the attribution their licences ask for.
    pub databases: Vec<DatabaseInfo>,
}

/// `GET /analytics/geolocation/map`.
#[utoipa::path(
    get,
    path = "/analytics/geolocation/map",
    tag = "geolocation",
    summary = "Messages, DMARC passes and failures per country of the source addresses, for the common filters",
    description = "Any role; access token or API key. 409 when geolocation is off.",
    params(super::query::FilterParams),
    responses(
        (status = 200, description = "OK", body = CountryMap),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 409, description = "Geolocation is off, or its databases cannot be opened", body = ErrorBody),
        (status = 429, description = "Rate limited, or too many expensive requests of this user at once; see Retry-After", body = ErrorBody),
        (status = 503, description = "The query ran longer than the time limit and was stopped", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn map(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    let databases = geo(&state)?.databases().infos().to_vec();
    let store = &state.store;
    let compute = async {
        Ok(CountryMap {
            countries: store.country_map(&params.filter).await?,
            databases,
        })
    };
    super::rollups::cached(&state, &caller, "country-map", &params, compute).await
}

/// What is known of one address.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Lookup {
    /// The address.
    #[schema(value_type = String)]
    pub ip: IpAddr,
    /// What the databases answer now (every field absent: nothing).
    pub location: GeoInfo,
    /// The service behind the address: by the DKIM domains that signed its reported mail
    /// (its busiest policy domain first), else by its network (see the sender table).
    pub service: Option<ServiceMatch>,
    /// The place stored for it, when its reports were ingested: UTC seconds of the
    /// lookup.
    pub stored_at: Option<i64>,
    /// The databases that answered.
    pub databases: Vec<DatabaseInfo>,
}

/// `GET /analytics/geolocation/lookup/{ip}`.
#[utoipa::path(
    get,
    path = "/analytics/geolocation/lookup/{ip}",
    tag = "geolocation",
    summary = "Where an address is: country, city if known, location, its network (ASN) and the network's organisation, and the service behind it",
    description = "Any role; access token or API key. 409 when geolocation is off.",
    params(("ip" = String, Path, description = "An IPv4 or IPv6 address")),
    responses(
        (status = 200, description = "OK", body = Lookup),
        (status = 400, description = "Not an IP address", body = ErrorBody),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 409, description = "Geolocation is off, or its databases cannot be opened", body = ErrorBody),
        (status = 429, description = "Rate limited, or too many expensive requests of this user at once; see Retry-After", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn lookup(
    State(state): State<AppState>,
    caller: Caller,
    Path(ip): Path<String>,
) -> ApiResult<Json<Lookup>> {
    let ip: IpAddr = ip
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{ip:?} is not an IP address")))?;
    let databases = geo(&state)?.databases();
    let location = databases
        .lookup(ip)
        .map_err(|e| ApiError::internal(&e))?
        .unwrap_or_default();
    let stored_at = state
        .store
        .places(&[ip])
        .await?
        .get(&ip)
        .map(|p| p.resolved_at);
    // The address's records: an expensive read for a busy sender.
    let heavy = Heavy::enter(&state, caller)?;
    let evidence = state
        .store
        .sender_evidence(&Filter::default(), &[ip])
        .await?;
    drop(heavy);
    let identified = state.senders.identify_all(evidence, |_| location.asn);
    let service = identified
        .get(&ip)
        .and_then(|list| list.iter().find_map(|i| i.service.clone()))
        .or_else(|| state.senders.of_network(location.asn?));
    Ok(Json(Lookup {
        ip,
        location,
        service,
        stored_at,
        databases: databases.infos().to_vec(),
    }))
}
