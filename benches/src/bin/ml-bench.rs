//! Times the anomaly model at scale: feature extraction, training (statistics, clipping,
//! the forest) and scoring on N synthetic unauthenticated sources (1,000,000 by default):
//! a handful of failing messages each, a few with more, first seen over 30 days.
//!
//! `ml-bench [N]` (build with `--release`).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use dmarc_core::AnomalyScorer;
use dmarc_core::rollup::{SourceActivity, Tally};
use dmarc_ml::{IsolationForestParams, Model, extract};
use rand::{Rng, SeedableRng};

const DAY: i64 = 86_400;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let at = 1_800_000_000;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let sources: Vec<SourceActivity> = (0..n)
        .map(|i| {
            let messages: u64 = if rng.random_bool(0.05) {
                rng.random_range(10..5_000)
            } else {
                rng.random_range(1..5)
            };
            let pass = rng.random_range(0..=messages / 3);
            let first_seen = at - rng.random_range(0..30) * DAY;
            SourceActivity {
                source_ip: IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + i as u32)),
                tally: Tally {
                    messages,
                    dmarc_pass: pass,
                    dmarc_fail: messages - pass,
                    dkim_aligned_pass: pass,
                    spf_aligned_pass: pass / 2,
                },
                quarantined: (messages - pass) / 2,
                rejected: 0,
                header_from_domains: rng.random_range(1..3),
                reporters: rng.random_range(1..4),
                days_active: rng.random_range(1..5),
                first_seen,
                last_seen: at,
            }
        })
        .collect();
    let started = Instant::now();
    let rows = extract(&sources, &[], at);
    let extracted = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let model =
        Model::train(&sources, &[], at, &IsolationForestParams::default()).expect("a model");
    let trained = started.elapsed().as_secs_f64();
    let places = std::collections::HashMap::new();
    let started = Instant::now();
    let scores = model.scorer(at, &places).score(&sources);
    let scored = started.elapsed().as_secs_f64();
    let anomalous = scores.iter().filter(|s| s.anomalous).count();
    println!(
        "{n} sources ({} columns): features {extracted:.2} s; training (features, statistics, clipping, 100 trees of 256) {trained:.2} s; scoring with explanations {scored:.2} s = {:.0} sources/s; {anomalous} anomalous",
        rows.ncols(),
        n as f64 / scored
    );
}
