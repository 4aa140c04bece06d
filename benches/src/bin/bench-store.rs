//! Store benchmarks: bulk loading and rollup-query latency, on SQLite or PostgreSQL.
//!
//! `bench-store load URL --records N [--domains D] [--days DAYS] [--seed S]`
//!   generates a year-like history (three reports per domain per day, sizes varying) in
//!   daily slices, prepares them on all cores and writes them through `Store::ingest`;
//!   prints records/s for the writes alone and for prepare + write.
//! `bench-store query URL [--repeat R]`
//!   runs every rollup the dashboard uses, over all time, the last 30 days and one domain,
//!   and prints p50/p95/max latency per query as JSON lines (a query slower than 30 s in
//!   total stops after three runs).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use dmarc_benches::Generator;
use dmarc_core::{Filter, ParseOptions};
use dmarc_store::{Page, Prepared, Store};
use rayon::prelude::*;

const DAY: i64 = 86_400;
const FIRST_DAY: i64 = 1_700_006_400;
/// Time spent repeating one query before it stops at three runs.
const QUERY_BUDGET: Duration = Duration::from_secs(30);

fn usage() -> ExitCode {
    eprintln!(
        "usage: bench-store load URL --records N [--domains D] [--days DAYS] [--seed S]\n       bench-store query URL [--repeat R]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode), Some(url)) = (args.first(), args.get(1)) else {
        return usage();
    };
    let option = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let store = match dmarc_store::connect(url).await {
            Ok(store) => store,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(1);
            }
        };
        match mode.as_str() {
            "load" => {
                load(
                    &store,
                    option("--records", 1_000_000),
                    option("--domains", 20),
                    option("--days", 365),
                    option("--seed", 1),
                )
                .await
            }
            "query" => query(&store, option("--repeat", 20)).await,
            _ => usage(),
        }
    })
}

async fn load(store: &Store, records: u64, domains: u64, days: u64, seed: u64) -> ExitCode {
    let mut generator = Generator::new(seed);
    let per_day = (records / days.max(1)).max(1) as usize;
    let reports_per_day = (domains * 3) as usize;
    let options = ParseOptions::at(dmarc_store::unix_now());
    let (mut written, mut write_time, mut prepare_time) = (0u64, Duration::ZERO, Duration::ZERO);
    let started = Instant::now();
    for day in 0..days {
        let generated = generator.batch(
            reports_per_day,
            domains as usize,
            FIRST_DAY + day as i64 * DAY,
            per_day,
        );
        let t = Instant::now();
        let prepared: Vec<Prepared> = generated
            .par_iter()
            .map(|g| dmarc_store::prepare(g.file_stem.clone(), g.xml.as_bytes(), &options))
            .collect();
        prepare_time += t.elapsed();
        for batch in dmarc_store::batches(prepared, 20_000) {
            let t = Instant::now();
            let outcomes = match store.ingest(&batch).await {
                Ok(outcomes) => outcomes,
                Err(e) => {
                    eprintln!("ingest failed: {e}");
                    return ExitCode::from(1);
                }
            };
            write_time += t.elapsed();
            written += outcomes.iter().flatten().map(|o| o.records).sum::<u64>();
        }
        if day % 30 == 29 {
            eprintln!("day {}: {written} records", day + 1);
        }
    }
    let totals = store.totals().await.map(|t| t.records).unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({
            "backend": store.backend(),
            "records_written": written,
            "records_stored": totals,
            "write_seconds": write_time.as_secs_f64(),
            "write_records_per_s": written as f64 / write_time.as_secs_f64().max(1e-9),
            "prepare_seconds": prepare_time.as_secs_f64(),
            "prepare_and_write_records_per_s":
                written as f64 / (write_time + prepare_time).as_secs_f64().max(1e-9),
            "wall_seconds_including_generation": started.elapsed().as_secs_f64(),
        })
    );
    ExitCode::SUCCESS
}

async fn query(store: &Store, repeat: u64) -> ExitCode {
    let Ok(summary) = store.summary(&Filter::default()).await else {
        eprintln!("summary failed");
        return ExitCode::from(1);
    };
    let last = summary.last_end.unwrap_or(0);
    let records = store.totals().await.map(|t| t.records).unwrap_or(0);
    let windows = [
        ("all", Filter::default()),
        (
            "30d",
            Filter {
                from: Some(last - 30 * DAY),
                ..Filter::default()
            },
        ),
        (
            "1domain-30d",
            Filter {
                domains: vec!["domain1.example".into()],
                from: Some(last - 30 * DAY),
                ..Filter::default()
            },
        ),
    ];
    for (window, filter) in &windows {
        for name in [
            "summary",
            "by_domain",
            "by_organization",
            "disposition",
            "alignment",
            "compliance",
            "timeline",
            "failure_trend",
            "sources_top20",
            "reports_page",
        ] {
            let mut times = Vec::new();
            let mut spent = Duration::ZERO;
            // A query slower than the budget allows is run three times, not `repeat` times.
            while (times.len() as u64) < repeat && (times.len() < 3 || spent < QUERY_BUDGET) {
                let t = Instant::now();
                let ok = run_query(store, name, filter).await;
                times.push(t.elapsed());
                spent += t.elapsed();
                if let Err(e) = ok {
                    eprintln!("{name} failed: {e}");
                    return ExitCode::from(1);
                }
            }
            times.sort();
            let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
            let pick = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
            println!(
                "{}",
                serde_json::json!({
                    "backend": store.backend(),
                    "records": records,
                    "window": window,
                    "query": name,
                    "p50_ms": ms(pick(0.5)),
                    "p95_ms": ms(pick(0.95)),
                    "max_ms": ms(pick(1.0)),
                    "runs": times.len(),
                })
            );
        }
    }
    ExitCode::SUCCESS
}

async fn run_query(store: &Store, name: &str, filter: &Filter) -> dmarc_store::Result<()> {
    match name {
        "summary" => store.summary(filter).await.map(drop),
        "by_domain" => store.by_domain(filter).await.map(drop),
        "by_organization" => store.by_organization(filter).await.map(drop),
        "disposition" => store.disposition_breakdown(filter).await.map(drop),
        "alignment" => store.alignment_breakdown(filter).await.map(drop),
        "compliance" => store.policy_compliance(filter).await.map(drop),
        "timeline" => store.timeline(filter).await.map(drop),
        "failure_trend" => store.failure_trend(filter, 7).await.map(drop),
        "sources_top20" => store.by_source(filter, Page::first(20)).await.map(drop),
        _ => store.reports(filter, Page::first(50)).await.map(drop),
    }
}
