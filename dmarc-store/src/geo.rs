//! Where source addresses are: one row per address in `source_geo` (migration 0012). The
//! ingest pipeline's enrichment step adds a report's places to it ([`ReportRows::add_place`],
//! written by the pipeline behind the reports); the server's refresh job rewrites stale rows
//! ([`Store::put_places`]). The country map, lookups and anomaly features read it.

use std::collections::HashMap;
use std::net::IpAddr;

use dmarc_core::{Filter, GeoInfo, ip_key};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use crate::query::{Arg, Inserter, Sql};
use crate::reads::ReadRow;
use crate::store::{Store, unsigned};
use crate::types::Place;
use crate::{Result, StoreError};

/// Messages per country (of the source addresses) for a filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CountryTally {
    /// ISO 3166-1 alpha-2 code; `None` for addresses geolocation does not place (private,
    /// unknown, or not looked up yet).
    pub country: Option<String>,
    /// Its name in English, when the database gives one.
    pub country_name: Option<String>,
    /// Messages.
    pub messages: u64,
    /// Messages that passed DMARC.
    pub dmarc_pass: u64,
    /// Messages that failed DMARC.
    pub dmarc_fail: u64,
    /// Distinct source addresses.
    pub sources: u64,
}

/// Addresses per `IN (...)` list.
const CHUNK: usize = 500;

const COLUMNS: &[&str] = &[
    "ip",
    "country",
    "country_name",
    "city",
    "lat_e6",
    "lon_e6",
    "asn",
    "resolved_at",
    "source",
];

fn micro(degrees: Option<f64>) -> Option<i64> {
    degrees
        .filter(|d| d.is_finite())
        .map(|d| (d * 1e6).round() as i64)
}

fn row_of(place: &Place) -> Vec<Arg> {
    let info = &place.info;
    vec![
        Arg::Bytes(Some(ip_key(place.ip).to_vec())),
        Arg::OptText(info.country_code.clone()),
        Arg::OptText(info.country_name.clone()),
        Arg::OptText(info.city.clone()),
        Arg::OptInt(micro(info.latitude)),
        Arg::OptInt(micro(info.longitude)),
        Arg::OptInt(info.asn.map(i64::from)),
        Arg::Int(place.resolved_at),
        Arg::Text(place.source.clone()),
    ]
}

fn place_from(row: &ReadRow) -> Result<Place> {
    let key: [u8; 16] = row
        .bytes("ip")?
        .try_into()
        .map_err(|_| StoreError::Corrupt("a place's key is not 16 bytes".into()))?;
    let ip = std::net::Ipv6Addr::from(key).to_canonical();
    let degrees =
        |column: &str| -> Result<Option<f64>> { Ok(row.opt_int(column)?.map(|v| v as f64 / 1e6)) };
    Ok(Place {
        ip,
        info: GeoInfo {
            country_code: row.opt_text("country")?,
            country_name: row.opt_text("country_name")?,
            city: row.opt_text("city")?,
            latitude: degrees("lat_e6")?,
            longitude: degrees("lon_e6")?,
            asn: row.opt_int("asn")?.and_then(|asn| u32::try_from(asn).ok()),
            as_org: row.opt_text("as_org")?,
        },
        resolved_at: row.int("resolved_at")?,
        source: row.text("source")?,
    })
}

/// Writes `places` (the last of each address wins) in the caller's transaction, replacing
/// what was known of their addresses.
async fn write_places<'a>(
    conn: &mut AnyConnection,
    places: impl IntoIterator<Item = &'a Place>,
) -> Result<()> {
    // One statement may not update a row twice (PostgreSQL): one row per address.
    let mut by_ip: HashMap<IpAddr, &Place> = HashMap::new();
    for place in places {
        by_ip.insert(place.ip, place);
    }
    if by_ip.is_empty() {
        return Ok(());
    }
    let mut sorted: Vec<&Place> = by_ip.into_values().collect();
    sorted.sort_by_key(|p| ip_key(p.ip));
    let updates: Vec<String> = COLUMNS[1..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let conflict = format!(" ON CONFLICT (ip) DO UPDATE SET {}", updates.join(", "));
    let mut inserter = Inserter::with_conflict("source_geo", COLUMNS, conflict);
    let mut networks = std::collections::BTreeMap::new();
    for place in sorted {
        inserter.row(conn, row_of(place)).await?;
        if let (Some(asn), Some(org)) = (place.info.asn, &place.info.as_org) {
            networks.insert(asn, org.clone());
        }
    }
    inserter.flush(conn).await?;
    let mut inserter = Inserter::with_conflict(
        "geo_networks",
        &["asn", "as_org"],
        " ON CONFLICT (asn) DO UPDATE SET as_org = excluded.as_org".to_owned(),
    );
    for (asn, org) in networks {
        inserter
            .row(conn, [Arg::Int(i64::from(asn)), Arg::Text(org)])
            .await?;
    }
    inserter.flush(conn).await
}

impl Store {
    /// Writes `places` in one transaction, replacing what was known of their addresses.
    pub async fn put_places(&self, places: &[Place]) -> Result<()> {
        self.retrying(|| async {
            let mut tx = self.begin_write().await?;
            write_places(&mut tx, places).await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        // Answers made from the previous places are out of date.
        self.retrying(|| self.bump_generation()).await
    }

    /// What is known of where `ips` are (addresses never placed are left out).
    pub async fn places(&self, ips: &[IpAddr]) -> Result<HashMap<IpAddr, Place>> {
        let mut out = HashMap::with_capacity(ips.len());
        for chunk in ips.chunks(CHUNK) {
            let mut sql = Sql::new(&format!(
                "SELECT g.{}, n.as_org FROM source_geo g \
                 LEFT JOIN geo_networks n ON n.asn = g.asn WHERE g.ip IN (",
                COLUMNS.join(", g.")
            ));
            sql.push_ip_keys(chunk);
            sql.push(")");
            for row in self.read(sql).await? {
                let place = place_from(&row)?;
                out.insert(place.ip, place);
            }
        }
        Ok(out)
    }

    /// Up to `limit` source addresses of stored reports to look up (again): never placed,
    /// placed before `before` (UTC seconds), or by other databases than `source`.
    pub async fn stale_places(&self, before: i64, source: &str, limit: i64) -> Result<Vec<IpAddr>> {
        let mut sql = Sql::new(
            "SELECT b.source_ip FROM (SELECT DISTINCT source_ip, ip FROM source_blocks \
             WHERE policy_domain = '' AND ip IS NOT NULL) b \
             LEFT JOIN source_geo g ON g.ip = b.ip \
             WHERE g.ip IS NULL OR g.resolved_at < ",
        );
        sql.arg(Arg::Int(before))
            .push(" OR g.source <> ")
            .arg(Arg::Text(source.to_owned()))
            .push(" ORDER BY b.ip LIMIT ")
            .arg(Arg::Int(limit));
        let rows = self.read(sql).await?;
        rows.iter()
            .filter_map(|row| row.source_ip("source_ip").transpose())
            .collect()
    }

    /// Messages, passes and failures per country of the source addresses, for `filter`,
    /// most messages first; addresses without a place are one row with no country.
    pub async fn country_map(&self, filter: &Filter) -> Result<Vec<CountryTally>> {
        let rows = crate::sources::by_country(self, filter).await?;
        let mut out = rows
            .iter()
            .map(|row| {
                let messages = unsigned(row.int("messages")?);
                let dmarc_pass = unsigned(row.int("dmarc_pass")?);
                Ok(CountryTally {
                    country: row.opt_text("country")?,
                    country_name: row.opt_text("country_name")?,
                    messages,
                    dmarc_pass,
                    dmarc_fail: messages.saturating_sub(dmarc_pass),
                    sources: unsigned(row.int("sources")?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| {
            b.messages
                .cmp(&a.messages)
                .then_with(|| a.country.cmp(&b.country))
        });
        Ok(out)
    }

    /// Of the networks `asns` (autonomous system numbers), those from which an address
    /// placed in them sent under `filter`.
    pub async fn networks_seen(
        &self,
        filter: &Filter,
        asns: &[u32],
    ) -> Result<std::collections::HashSet<u32>> {
        crate::sources::networks_seen(self, filter, asns).await
    }

    /// A page of the source addresses placed in `country` (ISO 3166-1 alpha-2, upper
    /// case) for `filter`, most messages first.
    pub async fn sources_in_country(
        &self,
        filter: &Filter,
        country: &str,
        page: crate::types::Page,
    ) -> Result<crate::types::Paged<dmarc_core::rollup::SourceGroup>> {
        crate::sources::in_country(self, filter, country, page).await
    }
}
