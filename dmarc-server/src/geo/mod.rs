//! Where source addresses are: the configured MaxMind DB files (`[geo]`), then the bundled
//! country and ASN data ([`bundled`]). [`Geo`] answers lookups, places the addresses of
//! every report ingested (it is the ingest pipeline's enrichment step, so uploads,
//! mailboxes, the command line and reprocessing all go through it), and refreshes stored
//! places.
//!
//! A place is cached per address: in memory, the time it was looked up, and in the
//! database (`source_geo`), the answer. An address is looked up again once its place is
//! `refresh_days` old (90 by default) or when the databases changed: [`Geo::reload_if_changed`]
//! (called every `watch_seconds` by the server) reopens a file whose size or modification
//! time changed, and the `geo-refresh` job then looks up again every stored address placed
//! by other databases, or too long ago, or never.

pub mod bundled;
pub mod mmdb;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use dmarc_core::{GeoError, GeoInfo, GeoLookup};
use dmarc_store::{Enrich, Place, ReportRows, Store};
use serde::Serialize;

use crate::config::GeoConfig;
use bundled::AsnTable;
use mmdb::Mmdb;

const DAY: i64 = 86_400;
/// Addresses whose lookup time is kept in memory; beyond, the memory is emptied (and the
/// addresses seen next are looked up again).
const CACHED: usize = 1_000_000;
/// Addresses looked up per round of a refresh.
const REFRESH_BATCH: i64 = 5_000;

/// One database answering lookups, as the API describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DatabaseInfo {
    /// `city` (the City or Country file), `asn`, `bundled-country` or `bundled-asn`.
    pub role: String,
    /// The file, for a configured one.
    pub path: Option<String>,
    /// Its `database_type` (`GeoLite2-City`, ...), or the bundled package and version.
    pub database_type: String,
    /// UTC seconds it was built, for an MMDB file.
    pub built: Option<i64>,
    /// Its licence, for bundled data.
    pub licence: Option<String>,
    /// The attribution its licence asks for, for bundled data.
    pub attribution: Option<String>,
}

/// A file's size and modification time: it changed when they did.
type FileStamp = (u64, Option<SystemTime>);

fn file_stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()))
}

/// The databases open at one time.
#[derive(Debug)]
pub struct Databases {
    city: Option<Mmdb>,
    asn: Option<Mmdb>,
    bundled_country: Option<Mmdb>,
    bundled_asn: Option<&'static AsnTable>,
    files: Vec<(PathBuf, Option<FileStamp>)>,
    infos: Vec<DatabaseInfo>,
    description: String,
    source: String,
}

impl Databases {
    /// Opens what `config` names.
    pub fn open(config: &GeoConfig) -> Result<Databases, GeoError> {
        let mut dbs = Databases {
            city: None,
            asn: None,
            bundled_country: None,
            bundled_asn: None,
            files: Vec::new(),
            infos: Vec::new(),
            description: String::new(),
            source: String::new(),
        };
        for (role, path) in [("city", &config.city_db), ("asn", &config.asn_db)] {
            if path.trim().is_empty() {
                continue;
            }
            let path = PathBuf::from(path.trim());
            let stamp = file_stamp(&path);
            let db = Mmdb::open(&path)?;
            dbs.infos.push(DatabaseInfo {
                role: role.to_owned(),
                path: Some(path.display().to_string()),
                database_type: db.database_type().to_owned(),
                built: Some(db.built()),
                licence: None,
                attribution: None,
            });
            dbs.files.push((path, stamp));
            if role == "city" {
                dbs.city = Some(db);
            } else {
                dbs.asn = Some(db);
            }
        }
        if config.bundled {
            dbs.bundled_country = Some(Mmdb::from_bytes(
                std::borrow::Cow::Borrowed(bundled::COUNTRY_MMDB),
                "the bundled country database",
            )?);
            dbs.bundled_asn = Some(AsnTable::bundled());
            dbs.infos.push(DatabaseInfo {
                role: "bundled-country".into(),
                path: None,
                database_type: format!(
                    "@ip-location-db/geo-whois-asn-country-mmdb {}",
                    bundled::COUNTRY_VERSION
                ),
                built: None,
                licence: Some("CC0-1.0 (NRO statistics: CC BY 4.0)".into()),
                attribution: Some("Country data: ip-location-db (sapics), from NRO (nro.net) statistics and WHOIS data".into()),
            });
            dbs.infos.push(DatabaseInfo {
                role: "bundled-asn".into(),
                path: None,
                database_type: format!("@ip-location-db/asn {}", bundled::ASN_VERSION),
                built: None,
                licence: Some("CC BY 4.0".into()),
                attribution: Some(
                    "ASN data: RouteViews (routeviews.org), IP to ASN Lite by DB-IP (db-ip.com) and NRO (nro.net), via ip-location-db"
                        .into(),
                ),
            });
        }
        dbs.description = dbs
            .infos
            .iter()
            .map(|i| match i.built {
                Some(built) => format!("{} {} {built}", i.role, i.database_type),
                None => format!("{} {}", i.role, i.database_type),
            })
            .collect::<Vec<_>>()
            .join("; ");
        // Stored with every place: a short digest of the description, not the description.
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(dbs.description.as_bytes());
        dbs.source = hex::encode(&digest[..8]);
        Ok(dbs)
    }

    /// The databases and their versions, in words.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Which databases answer, in the order they are asked.
    pub fn infos(&self) -> &[DatabaseInfo] {
        &self.infos
    }

    /// Identifies the databases and their versions (16 hex digits of the SHA-256 of
    /// [`Databases::description`]): a place from another source is stale.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether a configured file changed on disk since it was opened.
    fn changed(&self) -> bool {
        self.files
            .iter()
            .any(|(path, stamp)| file_stamp(path) != *stamp)
    }
}

impl GeoLookup for Databases {
    fn lookup(&self, ip: IpAddr) -> Result<Option<GeoInfo>, GeoError> {
        let ip = ip.to_canonical();
        let mut info = match &self.city {
            Some(db) => db.lookup(ip)?.unwrap_or_default(),
            None => GeoInfo::default(),
        };
        if info.asn.is_none()
            && let Some(db) = &self.asn
            && let Some(found) = db.lookup(ip)?
        {
            info.asn = found.asn;
            info.as_org = found.as_org;
        }
        if info.country_code.is_none()
            && let Some(db) = &self.bundled_country
            && let Some(found) = db.lookup(ip)?
        {
            info.country_code = found.country_code;
        }
        if info.asn.is_none()
            && let Some(table) = self.bundled_asn
            && let Some((asn, org)) = table.lookup(ip)
        {
            info.asn = Some(asn);
            info.as_org = org.map(str::to_owned);
        }
        Ok((info != GeoInfo::default()).then_some(info))
    }
}

/// The clock places are dated by (UTC seconds); injected by tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Geolocation of the server: the databases in force, the clock and the memory of what
/// was looked up when.
pub struct Geo {
    config: GeoConfig,
    current: RwLock<Arc<Databases>>,
    /// Per address: when it was looked up, and in which generation of the databases.
    looked_up: Mutex<HashMap<IpAddr, (i64, u64)>>,
    generation: std::sync::atomic::AtomicU64,
    clock: Clock,
}

impl std::fmt::Debug for Geo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Geo")
            .field("databases", &self.databases().description())
            .finish_non_exhaustive()
    }
}

/// Why a refresh stopped.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] dmarc_store::StoreError),
    /// A database cannot answer.
    #[error(transparent)]
    Geo(#[from] GeoError),
}

/// What a refresh did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RefreshSummary {
    /// Addresses looked up.
    pub looked_up: u64,
    /// Of those, addresses the databases placed.
    pub placed: u64,
    /// The databases.
    pub source: String,
}

impl Geo {
    /// Geolocation as `config` says; `None` when it is off, or on with no database at all.
    pub fn open(config: &GeoConfig) -> Result<Option<Arc<Geo>>, GeoError> {
        Geo::with_clock(config, Arc::new(dmarc_store::unix_now))
    }

    /// As [`Geo::open`], dating places by `clock`.
    pub fn with_clock(config: &GeoConfig, clock: Clock) -> Result<Option<Arc<Geo>>, GeoError> {
        if !config.enabled {
            return Ok(None);
        }
        let databases = Databases::open(config)?;
        if databases.infos.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(Geo {
            config: config.clone(),
            current: RwLock::new(Arc::new(databases)),
            looked_up: Mutex::new(HashMap::new()),
            generation: std::sync::atomic::AtomicU64::new(0),
            clock,
        })))
    }

    /// The databases in force.
    pub fn databases(&self) -> Arc<Databases> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reopens the databases when a configured file changed: `Ok(true)` when they were
    /// (places are then looked up again as addresses come, and by the refresh job).
    pub fn reload_if_changed(&self) -> Result<bool, GeoError> {
        if !self.databases().changed() {
            return Ok(false);
        }
        let fresh = Arc::new(Databases::open(&self.config)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(true)
    }

    /// Where `ip` is, now.
    pub fn place(&self, ip: IpAddr) -> Result<Place, GeoError> {
        let databases = self.databases();
        Ok(Place {
            ip,
            info: databases.lookup(ip)?.unwrap_or_default(),
            resolved_at: (self.clock)(),
            source: databases.source().to_owned(),
        })
    }

    fn refresh_seconds(&self) -> i64 {
        i64::from(self.config.refresh_days) * DAY
    }

    /// Looks up again every stored address placed before the refresh period, by other
    /// databases, or never.
    pub async fn refresh(&self, store: &Store) -> Result<RefreshSummary, RefreshError> {
        let source = self.databases().source().to_owned();
        let mut summary = RefreshSummary {
            source: source.clone(),
            ..RefreshSummary::default()
        };
        loop {
            let before = (self.clock)() - self.refresh_seconds();
            let stale = store.stale_places(before, &source, REFRESH_BATCH).await?;
            if stale.is_empty() {
                return Ok(summary);
            }
            let places = stale
                .into_iter()
                .map(|ip| self.place(ip))
                .collect::<Result<Vec<_>, _>>()?;
            summary.looked_up += places.len() as u64;
            summary.placed += places
                .iter()
                .filter(|p| p.info != GeoInfo::default())
                .count() as u64;
            store.put_places(&places).await?;
            if places.iter().any(|p| p.source != source) {
                // The databases changed under the refresh: the next run goes on.
                return Ok(summary);
            }
        }
    }
}

impl Enrich for Geo {
    fn enrich(&self, report: &mut ReportRows) {
        let now = (self.clock)();
        let generation = self.generation.load(std::sync::atomic::Ordering::Relaxed);
        let fresh_after = now - self.refresh_seconds();
        let wanted: Vec<IpAddr> = {
            let mut looked_up = self
                .looked_up
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if looked_up.len() > CACHED {
                looked_up.clear();
            }
            // The memory of lookups also drops an address seen twice in the report.
            report
                .sources()
                .filter_map(|(ip, _)| ip)
                .filter(|ip| {
                    let fresh = looked_up
                        .get(ip)
                        .is_some_and(|&(at, g)| g == generation && at > fresh_after);
                    if !fresh {
                        looked_up.insert(*ip, (now, generation));
                    }
                    !fresh
                })
                .collect()
        };
        if wanted.is_empty() {
            return;
        }
        let databases = self.databases();
        for ip in wanted {
            match databases.lookup(ip) {
                Ok(info) => report.add_place(Place {
                    ip,
                    info: info.unwrap_or_default(),
                    resolved_at: now,
                    source: databases.source().to_owned(),
                }),
                Err(e) => tracing::warn!(%ip, error = %e, "geolocation failed"),
            }
        }
    }
}
