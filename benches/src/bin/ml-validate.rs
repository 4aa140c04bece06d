//! Validates the anomaly model on generated data with an injected spoofing campaign:
//! - ROC AUC of our scores, the campaign's addresses being the positives (>= 0.95);
//! - the same seed gives the same model bytes, another seed other bytes;
//! - writes the feature matrix, our scores and the labels as CSV, for
//!   `benches/ml_validate.py` to compare with scikit-learn's `IsolationForest` (same trees
//!   and sample size; Spearman rank correlation >= 0.9).
//!
//! `ml-validate OUT.csv [SEED]`. The data: 40 days of reports (600 reports, 5 domains,
//! about 60,000 rows, the bench generator's mix) and 20 spoofing addresses on the last 2
//! days. Activity is summed by the core (`rollup::source_activity`), as the store does.

use std::io::Write;
use std::process::ExitCode;

use dmarc_core::rollup::source_activity;
use dmarc_core::{Filter, ParseOptions, Report};
use dmarc_ml::{FEATURES, IsolationForestParams, Model};

const DAY: i64 = 86_400;
/// 2026-10-01, midnight UTC: the first day of the data.
const FIRST_DAY: i64 = 1_790_812_800;
const DAYS: i64 = 40;

/// The area under the ROC curve: the chance that a positive scores above a negative (ties
/// count half).
fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks (1-based) over ties.
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[order[k]] = rank;
        }
        i = j + 1;
    }
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    let sum: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l)
        .map(|(r, _)| r)
        .sum();
    (sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: ml-validate OUT.csv [SEED]");
        return ExitCode::from(2);
    };
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut generator = dmarc_benches::Generator::new(42);
    let mut generated = generator.batch(600, 5, FIRST_DAY, 60_000);
    let spoofers = dmarc_benches::spoofer_addresses(20);
    let last = FIRST_DAY + (DAYS - 2) * DAY;
    generated.extend(generator.spoofing_campaign("domain0.example", &spoofers, last, 2, 600));
    let at = FIRST_DAY + DAYS * DAY;
    let options = ParseOptions::at(at);
    let reports: Vec<Report> = generated
        .iter()
        .filter_map(|g| {
            dmarc_core::parse_input(g.xml.as_bytes(), &options)
                .into_iter()
                .next()
                .and_then(|p| p.result.ok())
        })
        .collect();
    // The model learns and scores the unauthenticated sources (dmarc_ml::MAX_PASS_SHARE).
    let sources: Vec<_> = source_activity(&reports, &Filter::default())
        .into_iter()
        .filter(dmarc_ml::unauthenticated)
        .collect();
    let labels: Vec<bool> = sources
        .iter()
        .map(|s| spoofers.contains(&s.source_ip.to_string()))
        .collect();
    let params = IsolationForestParams {
        seed,
        ..IsolationForestParams::default()
    };
    let started = std::time::Instant::now();
    // `rows` is what the forest sees: the rows with each unsuspicious deviation clipped.
    let (model, rows) = match Model::train_with_inputs(&sources, &[], at, &params) {
        Ok(trained) => trained,
        Err(e) => {
            eprintln!("ml-validate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let scores: Vec<f64> = rows
        .rows()
        .into_iter()
        .map(|row| model.forest.score_row(row))
        .collect();
    let auc = roc_auc(&scores, &labels);
    // How many of the highest scores are the campaign's addresses.
    let mut ranked: Vec<usize> = (0..scores.len()).collect();
    ranked.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let on_top = ranked[..spoofers.len().min(ranked.len())]
        .iter()
        .filter(|&&i| labels[i])
        .count();
    let again = Model::train(&sources, &[], at, &params).map(|m| m.forest.to_bytes());
    let same = again.as_ref().ok() == Some(&model.forest.to_bytes());
    let other = Model::train(
        &sources,
        &[],
        at,
        &IsolationForestParams {
            seed: seed + 1,
            ..params
        },
    )
    .map(|m| m.forest.to_bytes());
    let differs = other.as_ref().ok() != Some(&model.forest.to_bytes());
    let mut csv = String::new();
    csv.push_str(&FEATURES.join(","));
    csv.push_str(",ours,spoofer\n");
    for ((row, score), label) in rows.rows().into_iter().zip(&scores).zip(&labels) {
        for v in row {
            csv.push_str(&format!("{v},"));
        }
        csv.push_str(&format!("{score},{}\n", u8::from(*label)));
    }
    if let Err(e) = std::fs::File::create(&out).and_then(|mut f| f.write_all(csv.as_bytes())) {
        eprintln!("ml-validate: cannot write {out}: {e}");
        return ExitCode::from(2);
    }
    println!(
        "sources {} (spoofers {}), training {:.3} s, ROC AUC {auc:.4}, spoofers among the {} highest scores: {on_top}, same seed same bytes: {same}, another seed other bytes: {differs}",
        sources.len(),
        labels.iter().filter(|l| **l).count(),
        seconds,
        spoofers.len()
    );
    if auc >= 0.95 && same && differs && labels.iter().filter(|l| **l).count() == spoofers.len() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "ml-validate: FAILED (ROC AUC must be >= 0.95, the model bytes fixed by the seed)"
        );
        ExitCode::FAILURE
    }
}
