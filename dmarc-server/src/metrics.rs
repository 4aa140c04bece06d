//! Prometheus metrics in the text exposition format: requests by route and status, request
//! latency histograms by route, ingest outcomes, job runs of this process, and the jobs of
//! the queue by kind and state (read from the database at each scrape).
//!
//! Written here rather than with prometheus-client: that crate (0.26, tried) makes this file
//! no smaller (its label structs, families and registry take the lines the formatting takes
//! here) and changes what scrapers see: OpenMetrics instead of the 0.0.4 text format, the
//! job-time summary becomes a histogram of 14 series per kind, and `le` moves first.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use dmarc_store::{JobCount, Outcome, OutcomeStatus};

/// Histogram bucket bounds in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    ingest: BTreeMap<&'static str, u64>,
    ingest_records: u64,
    job_runs: BTreeMap<(String, &'static str), u64>,
    job_seconds: BTreeMap<String, (u64, f64)>,
    cache: [u64; 2],
}

/// The process's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One answered request; `route` is the matched route pattern (never the raw path,
    /// which would make a label per id).
    pub fn request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut inner = self.lock();
        *inner
            .requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        let h = inner.latency.entry(route.to_owned()).or_default();
        let seconds = elapsed.as_secs_f64();
        for (count, bound) in h.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *count += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// One ingest outcome (and the records of an accepted report).
    pub fn ingested(&self, outcome: &Outcome) {
        let status = outcome.outcome.as_str();
        let mut inner = self.lock();
        *inner.ingest.entry(status).or_default() += 1;
        if outcome.outcome == OutcomeStatus::Accepted {
            inner.ingest_records += outcome.records;
        }
    }

    /// One job run by this process: its kind, how it ended, how long it took.
    pub fn job_run(&self, kind: &str, outcome: &'static str, elapsed: Duration) {
        let mut inner = self.lock();
        *inner
            .job_runs
            .entry((kind.to_owned(), outcome))
            .or_default() += 1;
        let (count, sum) = inner.job_seconds.entry(kind.to_owned()).or_default();
        *count += 1;
        *sum += elapsed.as_secs_f64();
    }

    /// One rollup answer served from the cache (`hit`) or computed (`miss`).
    pub fn cache(&self, hit: bool) {
        self.lock().cache[usize::from(hit)] += 1;
    }

    /// The exposition text, with the queue's `jobs` by kind and state.
    pub fn render(&self, jobs: &[JobCount]) -> String {
        let inner = self.lock();
        let mut out = String::new();
        out.push_str("# HELP dmarc_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE dmarc_http_requests_total counter\n");
        for ((method, route, status), n) in &inner.requests {
            let _ = writeln!(
                out,
                "dmarc_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(method),
                escape(route)
            );
        }
        out.push_str("# HELP dmarc_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE dmarc_http_request_duration_seconds histogram\n");
        for (route, h) in &inner.latency {
            let route = escape(route);
            for (count, bound) in h.counts.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "dmarc_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "dmarc_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 dmarc_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 dmarc_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count, h.sum, h.count
            );
        }
        out.push_str("# HELP dmarc_ingest_outcomes_total Report payloads ingested, by outcome.\n");
        out.push_str("# TYPE dmarc_ingest_outcomes_total counter\n");
        for status in ["accepted", "duplicate", "refreshed", "rejected"] {
            let n = inner.ingest.get(status).copied().unwrap_or_default();
            let _ = writeln!(
                out,
                "dmarc_ingest_outcomes_total{{outcome=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP dmarc_ingest_records_total Records of accepted reports.\n");
        out.push_str("# TYPE dmarc_ingest_records_total counter\n");
        let _ = writeln!(out, "dmarc_ingest_records_total {}", inner.ingest_records);
        out.push_str(
            "# HELP dmarc_job_runs_total Job runs by this process, by kind and outcome.\n",
        );
        out.push_str("# TYPE dmarc_job_runs_total counter\n");
        for ((kind, outcome), n) in &inner.job_runs {
            let _ = writeln!(
                out,
                "dmarc_job_runs_total{{kind=\"{}\",outcome=\"{outcome}\"}} {n}",
                escape(kind)
            );
        }
        out.push_str("# HELP dmarc_job_run_seconds Time spent running jobs, by kind.\n");
        out.push_str("# TYPE dmarc_job_run_seconds summary\n");
        for (kind, (count, sum)) in &inner.job_seconds {
            let kind = escape(kind);
            let _ = writeln!(
                out,
                "dmarc_job_run_seconds_sum{{kind=\"{kind}\"}} {sum}\n\
                 dmarc_job_run_seconds_count{{kind=\"{kind}\"}} {count}"
            );
        }
        out.push_str(
            "# HELP dmarc_rollup_cache_total Rollup answers, from the cache or computed.\n",
        );
        out.push_str("# TYPE dmarc_rollup_cache_total counter\n");
        for (result, n) in ["miss", "hit"].iter().zip(inner.cache) {
            let _ = writeln!(out, "dmarc_rollup_cache_total{{result=\"{result}\"}} {n}");
        }
        out.push_str("# HELP dmarc_jobs Jobs in the queue (all processes), by kind and state.\n");
        out.push_str("# TYPE dmarc_jobs gauge\n");
        for count in jobs {
            let _ = writeln!(
                out,
                "dmarc_jobs{{kind=\"{}\",state=\"{}\"}} {}",
                escape(&count.kind),
                count.state.as_str(),
                count.jobs
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request("GET", "/api/reports/{id}", 200, Duration::from_millis(3));
        m.request("GET", "/api/reports/{id}", 404, Duration::from_millis(30));
        m.ingested(&Outcome {
            input: "a.xml".into(),
            part: None,
            outcome: OutcomeStatus::Accepted,
            report: None,
            conflict_with: None,
            records: 12,
            messages: 40,
            error: None,
        });
        m.job_run("email-ingestion", "retried", Duration::from_millis(1500));
        let text = m.render(&[JobCount {
            kind: "email-ingestion".into(),
            state: dmarc_store::JobState::Queued,
            jobs: 2,
        }]);
        assert!(text.contains(
            "dmarc_http_requests_total{method=\"GET\",route=\"/api/reports/{id}\",status=\"404\"} 1"
        ));
        assert!(text.contains(
            "dmarc_http_request_duration_seconds_bucket{route=\"/api/reports/{id}\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "dmarc_http_request_duration_seconds_bucket{route=\"/api/reports/{id}\",le=\"0.05\"} 2"
        ));
        assert!(text.contains("dmarc_ingest_outcomes_total{outcome=\"accepted\"} 1"));
        assert!(text.contains("dmarc_ingest_records_total 12"));
        assert!(
            text.contains("dmarc_job_runs_total{kind=\"email-ingestion\",outcome=\"retried\"} 1")
        );
        assert!(text.contains("dmarc_job_run_seconds_sum{kind=\"email-ingestion\"} 1.5"));
        assert!(text.contains("dmarc_jobs{kind=\"email-ingestion\",state=\"queued\"} 2"));
    }
}
