//! `[geo]`: where source addresses are looked up. Out of the box the server uses the
//! bundled country and ASN data (built in from npm, see README "Geolocation"); a MaxMind DB
//! file named here (GeoLite2/GeoIP2 City or Country, ASN; DB-IP or IPinfo files) answers
//! first.

use serde::{Deserialize, Serialize};

/// Geolocation of source addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeoConfig {
    /// Look addresses up at all (off: no place, no map, the geo endpoints answer 409).
    pub enabled: bool,
    /// A City or Country MMDB file (`GeoLite2-City.mmdb`, `dbip-city-lite.mmdb`,
    /// `ipinfo_lite.mmdb`, ...): country, city and location. Empty: none.
    pub city_db: String,
    /// An ASN MMDB file (`GeoLite2-ASN.mmdb`, `dbip-asn-lite.mmdb`, ...). Empty: none.
    pub asn_db: String,
    /// Answer from the bundled data what the files above do not: country (CC0, from
    /// NRO and WHOIS data) and ASN (CC BY 4.0, RouteViews, DB-IP and NRO).
    pub bundled: bool,
    /// A place is looked up again after this many days.
    pub refresh_days: u32,
    /// Seconds between checks of the files above for a new version (0: never checked).
    pub watch_seconds: u64,
}

impl Default for GeoConfig {
    fn default() -> Self {
        GeoConfig {
            enabled: true,
            city_db: String::new(),
            asn_db: String::new(),
            bundled: true,
            refresh_days: 90,
            watch_seconds: 60,
        }
    }
}
