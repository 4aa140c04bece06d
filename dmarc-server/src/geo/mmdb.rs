//! One MaxMind DB file, whatever its schema: GeoLite2/GeoIP2 City or Country and ASN, DB-IP
//! Lite (the same schema), IPinfo Lite (`country_code`, `asn` as "AS15169", `as_name`),
//! and ip-location-db's files (`country_code`; `autonomous_system_number`).

use std::borrow::Cow;
use std::net::IpAddr;

use dmarc_core::{GeoError, GeoInfo};
use maxminddb::Reader;
use serde::Deserialize;

/// An opened database.
pub struct Mmdb {
    reader: Reader<Cow<'static, [u8]>>,
}

impl std::fmt::Debug for Mmdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mmdb")
            .field("database_type", &self.database_type())
            .field("built", &self.built())
            .finish()
    }
}

/// What any of the schemas may hold; everything else is skipped.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Entry {
    country: Option<CountryField>,
    registered_country: Option<Named>,
    country_code: Option<String>,
    city: Option<Named>,
    location: Option<Location>,
    autonomous_system_number: Option<u32>,
    autonomous_system_organization: Option<String>,
    asn: Option<AsnField>,
    as_name: Option<String>,
}

/// GeoIP2's `country` is a map; IPinfo's is the country's name.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CountryField {
    Named(Named),
    Name(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Named {
    iso_code: Option<String>,
    names: Option<Names>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Names {
    en: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Location {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

/// IPinfo writes "AS15169"; others a number.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AsnField {
    Number(u32),
    Text(String),
}

impl AsnField {
    fn number(&self) -> Option<u32> {
        match self {
            AsnField::Number(n) => Some(*n),
            AsnField::Text(t) => t.trim_start_matches(['A', 'S', 'a', 's']).parse().ok(),
        }
    }
}

fn english(named: &Named) -> Option<String> {
    named.names.as_ref().and_then(|n| n.en.clone())
}

/// A valid ISO code (two ASCII letters), upper case.
fn iso(code: Option<&str>) -> Option<String> {
    code.map(str::trim)
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase)
}

impl Mmdb {
    /// Reads a database from its bytes (`what` names it in errors).
    pub fn from_bytes(bytes: Cow<'static, [u8]>, what: &str) -> Result<Mmdb, GeoError> {
        let reader = Reader::from_source(bytes)
            .map_err(|e| GeoError(format!("{what} is not a MaxMind DB file: {e}")))?;
        Ok(Mmdb { reader })
    }

    /// Reads the database file at `path`.
    pub fn open(path: &std::path::Path) -> Result<Mmdb, GeoError> {
        let bytes = std::fs::read(path)
            .map_err(|e| GeoError(format!("cannot read {}: {e}", path.display())))?;
        Mmdb::from_bytes(Cow::Owned(bytes), &path.display().to_string())
    }

    /// The `database_type` of its metadata (`GeoLite2-City`, ...).
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// When it was built (UTC seconds).
    pub fn built(&self) -> i64 {
        i64::try_from(self.reader.metadata().build_epoch).unwrap_or(i64::MAX)
    }

    /// What it knows of `ip` (`None`: nothing).
    pub fn lookup(&self, ip: IpAddr) -> Result<Option<GeoInfo>, GeoError> {
        let found = self
            .reader
            .lookup(ip)
            .map_err(|e| GeoError(format!("lookup of {ip}: {e}")))?;
        let Some(entry) = found
            .decode::<Entry>()
            .map_err(|e| GeoError(format!("the entry of {ip} cannot be read: {e}")))?
        else {
            return Ok(None);
        };
        let (country_code, country_name) = match &entry.country {
            Some(CountryField::Named(named)) => (iso(named.iso_code.as_deref()), english(named)),
            Some(CountryField::Name(name)) => (None, Some(name.clone())),
            None => (None, None),
        };
        let registered = entry.registered_country.as_ref();
        let info = GeoInfo {
            country_code: country_code
                .or_else(|| iso(entry.country_code.as_deref()))
                .or_else(|| iso(registered.and_then(|r| r.iso_code.as_deref()))),
            country_name: country_name.or_else(|| registered.and_then(english)),
            city: entry.city.as_ref().and_then(english),
            latitude: entry.location.as_ref().and_then(|l| l.latitude),
            longitude: entry.location.as_ref().and_then(|l| l.longitude),
            asn: entry
                .autonomous_system_number
                .or_else(|| entry.asn.as_ref().and_then(AsnField::number)),
            as_org: entry.autonomous_system_organization.or(entry.as_name),
        };
        Ok((info != GeoInfo::default()).then_some(info))
    }
}
