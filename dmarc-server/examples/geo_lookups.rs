//! Geolocation lookups per second: N addresses (1,000,000 by default, spread over the
//! IPv4 space, one in five IPv6) looked up in the bundled data (country MMDB and ASN
//! table), and in a configured City MMDB when `DMARC_GEO_CITY_DB` names one.
//!
//! `cargo run --release -p dmarc-server --example geo_lookups [N]`

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use dmarc_core::GeoLookup;
use dmarc_server::config::GeoConfig;
use dmarc_server::geo::Databases;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let config = GeoConfig {
        city_db: std::env::var("DMARC_GEO_CITY_DB").unwrap_or_default(),
        ..GeoConfig::default()
    };
    let started = Instant::now();
    let dbs = Databases::open(&config).expect("the databases");
    // The ASN table is read on first use.
    let _ = dbs.lookup(IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)));
    let opened = started.elapsed().as_secs_f64();
    let addresses: Vec<IpAddr> = (0..n)
        .map(|i| {
            let spread = i.wrapping_mul(2_654_435_761);
            if i % 5 == 4 {
                IpAddr::V6(Ipv6Addr::new(
                    0x2a00 + (spread >> 24) as u16,
                    (spread >> 8) as u16,
                    0,
                    0,
                    0,
                    0,
                    0,
                    1,
                ))
            } else {
                IpAddr::V4(Ipv4Addr::from(spread))
            }
        })
        .collect();
    let started = Instant::now();
    let mut placed = 0u32;
    for ip in &addresses {
        if let Ok(Some(info)) = dbs.lookup(*ip) {
            placed += u32::from(info.country_code.is_some() || info.asn.is_some());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{n} lookups in {seconds:.2} s = {:.0} lookups/s ({placed} placed); databases opened and the ASN table read in {opened:.2} s ({})",
        f64::from(n) / seconds,
        dbs.description()
    );
}
