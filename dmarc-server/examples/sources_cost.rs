//! What sender identification adds to a page of `/api/sources`, as the handler reads it:
//! the ranking, then the activity of the page's addresses, their places and (with
//! identification) their sender evidence at once. Median of 5 per page, with and without
//! the sender evidence, alternating.
//!
//! `cargo run --release -p dmarc-server --example sources_cost DATABASE_URL`

use std::time::Instant;

use dmarc_core::Filter;
use dmarc_core::senders::Services;
use dmarc_store::{Page, Store, connect};

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The reads of one page, in seconds.
async fn page(store: &Store, filter: &Filter, page: Page, senders: Option<&Services>) -> f64 {
    let started = Instant::now();
    let ranked = store.by_source(filter, page).await.expect("ranking");
    let ips: Vec<_> = ranked.items.iter().filter_map(|g| g.source_ip).collect();
    match senders {
        Some(services) => {
            store.activity_of(filter, &ips).await.expect("activity");
            let places = store.places(&ips).await.expect("places");
            let evidence = store.sender_evidence(filter, &ips).await.expect("evidence");
            let found =
                services.identify_all(evidence, |ip| places.get(&ip).and_then(|p| p.info.asn));
            assert!(found.len() <= ips.len());
        }
        None => {
            tokio::try_join!(store.activity_of(filter, &ips), store.places(&ips)).expect("reads");
        }
    }
    started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::args().nth(1).expect("a database URL");
    let store = connect(&url).await.expect("connect");
    let filter = Filter::default();
    let services = Services::curated();
    for offset in [0, 50, 5_000] {
        let at = Page { limit: 50, offset };
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            without.push(page(&store, &filter, at, None).await);
            with.push(page(&store, &filter, at, Some(&services)).await);
        }
        let (with, without) = (median(with), median(without));
        println!(
            "{{\"offset\": {offset}, \"without_senders_s\": {without:.4}, \"with_senders_s\": {with:.4}, \"ratio\": {:.2}}}",
            with / without
        );
    }
}
