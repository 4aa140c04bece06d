//! What geolocation adds to ingestion, without the database: the time to prepare (parse
//! into rows) every report file of a folder, and the time the enrichment step then takes
//! on those rows (looking up each new address, in the bundled data).
//!
//! `cargo run --release -p dmarc-server --example enrich_cost DIR`

use std::time::Instant;

use dmarc_core::ParseOptions;
use dmarc_server::config::GeoConfig;
use dmarc_server::geo::Geo;
use dmarc_store::Enrich;

fn main() {
    let dir = std::env::args().nth(1).expect("a folder of report files");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the folder")
        .map(|e| e.expect("an entry").path())
        .collect();
    files.sort();
    let options = ParseOptions::at(dmarc_store::unix_now());
    let started = Instant::now();
    let mut prepared: Vec<_> = files
        .iter()
        .map(|f| {
            dmarc_store::prepare(
                f.display().to_string(),
                &std::fs::read(f).expect("read"),
                &options,
            )
        })
        .collect();
    let parsing = started.elapsed().as_secs_f64();
    let geo = Geo::open(&GeoConfig::default()).expect("open").expect("on");
    let started = Instant::now();
    let mut places = 0;
    let mut records = 0;
    for input in &mut prepared {
        for part in &mut input.parts {
            if let Ok(rows) = &mut part.result {
                geo.enrich(rows);
                places += rows.places().len();
                records += rows.record_count();
            }
        }
    }
    let enriching = started.elapsed().as_secs_f64();
    println!(
        "{} files, {records} records: prepared in {parsing:.2} s; enrichment {enriching:.3} s for {places} places ({:.1} % of preparing)",
        files.len(),
        100.0 * enriching / parsing
    );
}
