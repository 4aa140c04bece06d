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
//! Then the same with weaker campaigns, to show where detection stops (printed only).

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

/// The base data parsed (without a campaign), and when it ends.
fn base_reports() -> (Vec<Report>, i64) {
    let mut generator = dmarc_benches::Generator::new(42);
    let generated = generator.batch(600, 5, FIRST_DAY, 60_000);
    let at = FIRST_DAY + DAYS * DAY;
    (parse(&generated, at), at)
}

fn parse(generated: &[dmarc_benches::GeneratedReport], at: i64) -> Vec<Report> {
    let options = ParseOptions::at(at);
    generated
        .iter()
        .filter_map(|g| {
            dmarc_core::parse_input(g.xml.as_bytes(), &options)
                .into_iter()
                .next()
                .and_then(|p| p.result.ok())
        })
        .collect()
}

/// The unauthenticated sources of `reports` (what the model learns and scores,
/// `dmarc_ml::MAX_PASS_SHARE`) and which are `spoofers`.
fn labelled(
    reports: &[Report],
    spoofers: &[String],
) -> (Vec<dmarc_core::rollup::SourceActivity>, Vec<bool>) {
    let sources: Vec<_> = source_activity(reports, &Filter::default())
        .into_iter()
        .filter(dmarc_ml::unauthenticated)
        .collect();
    let labels = sources
        .iter()
        .map(|s| spoofers.contains(&s.source_ip.to_string()))
        .collect();
    (sources, labels)
}

/// How many of the `n` highest scores are positives.
fn on_top(scores: &[f64], labels: &[bool], n: usize) -> usize {
    let mut ranked: Vec<usize> = (0..scores.len()).collect();
    ranked.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    ranked[..n.min(ranked.len())]
        .iter()
        .filter(|&&i| labels[i])
        .count()
}

/// The unauthenticated sources of `base` with a 2-day campaign of `spoofers` at its end
/// (about `messages` failing messages a day per address, seen by `receivers`), labelled.
fn with_campaign(
    base: &[Report],
    at: i64,
    spoofers: &[String],
    messages: u64,
    receivers: usize,
) -> (Vec<dmarc_core::rollup::SourceActivity>, Vec<bool>) {
    let last = FIRST_DAY + (DAYS - 2) * DAY;
    let campaign = dmarc_benches::Generator::new(43).spoofing_campaign(
        "domain0.example",
        spoofers,
        last,
        2,
        messages,
        receivers,
    );
    let mut reports = base.to_vec();
    reports.extend(parse(&campaign, at));
    labelled(&reports, spoofers)
}

/// Where detection stops: the same data with weaker campaigns (fewer failing messages a
/// day per address), each trained and scored as the server does (threshold from the
/// default contamination). One line per campaign; informative, not a pass or fail.
fn weaker_campaigns(base: &[Report], at: i64, spoofers: &[String], params: &IsolationForestParams) {
    for (messages, receivers) in [(150, 3), (40, 3), (10, 3), (3, 3), (40, 1), (10, 1), (3, 1)] {
        let (sources, labels) = with_campaign(base, at, spoofers, messages, receivers);
        let Ok((mut model, rows)) = Model::train_with_inputs(&sources, &[], at, params) else {
            continue;
        };
        model.calibrate(&rows, 0.5, 0.005);
        let scores: Vec<f64> = rows
            .rows()
            .into_iter()
            .map(|row| model.forest.score_row(row))
            .collect();
        let above = |spoofer: bool| {
            scores
                .iter()
                .zip(&labels)
                .filter(|(s, l)| (!spoofer || **l) && **s >= model.threshold)
                .count()
        };
        let (flagged, anomalous) = (above(true), above(false));
        println!(
            "weaker campaign: about {messages} failing messages a day per address, seen by {receivers} reporter(s): ROC AUC {:.4}, spoofers among the {} highest scores: {}, anomalous: {flagged} of the {} spoofers ({anomalous} sources in all)",
            roc_auc(&scores, &labels),
            spoofers.len(),
            on_top(&scores, &labels, spoofers.len()),
            spoofers.len()
        );
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: ml-validate OUT.csv [SEED]");
        return ExitCode::from(2);
    };
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let (base, at) = base_reports();
    let spoofers = dmarc_benches::spoofer_addresses(20);
    let (sources, labels) = with_campaign(&base, at, &spoofers, 600, 3);
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
    let on_top = on_top(&scores, &labels, spoofers.len());
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
    weaker_campaigns(&base, at, &spoofers, &params);
    if auc >= 0.95 && same && differs && labels.iter().filter(|l| **l).count() == spoofers.len() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "ml-validate: FAILED (ROC AUC must be >= 0.95, the model bytes fixed by the seed)"
        );
        ExitCode::FAILURE
    }
}
