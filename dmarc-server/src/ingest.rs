//! Ingestion in the server process: uploads, mailbox passes and reprocessing all run the
//! store's one pipeline ([`dmarc_store::ingest_inputs`]) through here, with the configured
//! limits, counted in the metrics, and at most `limits.concurrent_ingests` at a time (a
//! further one waits), so the memory of the process is bounded by the configuration:
//! about `concurrent_ingests x (one input + one payload's XML + the row budget)`.
//!
//! An ingestion that stored new reports queues an alert evaluation a minute later (one for
//! all the ingestions of that minute), so alerts follow new data without waiting for the
//! hourly schedule.

use std::sync::Arc;

use dmarc_core::ParseOptions;
use dmarc_store::{
    Enrich, Input, InputDone, NewJob, OutcomeStatus, PipelineOptions, ReprocessSummary, Store,
};
use tokio::sync::{Semaphore, mpsc};

use crate::config::LimitsConfig;
use crate::metrics::Metrics;

/// How long after new reports the alert evaluation they queue runs: ingestions within it
/// share one evaluation.
pub const EVALUATION_DELAY_MS: i64 = 60_000;

/// What ingestion runs with; cheap to clone.
#[derive(Debug, Clone)]
pub struct Ingest {
    store: Store,
    limits: LimitsConfig,
    metrics: Arc<Metrics>,
    slots: Arc<Semaphore>,
    /// The job queued (due [`EVALUATION_DELAY_MS`] later) after new reports, if any.
    after_new_reports: Option<NewJob>,
    /// The pipeline's enrichment step (geolocation), if any.
    enrich: Option<Arc<dyn Enrich>>,
}

impl Ingest {
    /// Ingestion into `store` under `limits`.
    pub fn new(store: Store, limits: &LimitsConfig, metrics: Arc<Metrics>) -> Ingest {
        Ingest {
            store,
            limits: limits.clone(),
            metrics,
            slots: Arc::new(Semaphore::new(limits.concurrent_ingests.max(1))),
            after_new_reports: None,
            enrich: None,
        }
    }

    /// Runs `enrich` on every report ingested (geolocation of its addresses).
    #[must_use]
    pub fn with_enrich(mut self, enrich: Option<Arc<dyn Enrich>>) -> Ingest {
        self.enrich = enrich;
        self
    }

    /// Queues `job` (the alert evaluation), due [`EVALUATION_DELAY_MS`] later, after each
    /// ingestion that stores new reports, unless a job of its kind is queued already.
    #[must_use]
    pub fn queue_after_new_reports(mut self, job: NewJob) -> Ingest {
        self.after_new_reports = Some(job);
        self
    }

    /// After new reports: the job of [`Ingest::queue_after_new_reports`]. A failure is
    /// logged: the reports are stored whatever happens here.
    async fn new_reports_stored(&self) {
        let Some(job) = &self.after_new_reports else {
            return;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let job = NewJob {
            run_at: now.saturating_add(EVALUATION_DELAY_MS),
            ..job.clone()
        };
        if let Err(e) = self.store.enqueue_once(&job, now).await {
            tracing::warn!(error = %e, kind = %job.kind, "cannot queue the job that follows new reports");
        }
    }

    /// The pipeline's options: one parser, the configured batch and budget, parsing now.
    pub fn options(&self) -> PipelineOptions {
        PipelineOptions {
            batch_records: self.limits.ingest_batch_records,
            budget_records: self.limits.ingest_batch_records.saturating_mul(2),
            parsers: 1,
            rejected_keep_bytes: self.limits.rejected_payload_max_bytes,
            enrich: self.enrich.clone(),
            ..PipelineOptions::new(ParseOptions::at(dmarc_store::unix_now()))
        }
    }

    /// Ingests the inputs received on `inputs` (waiting for a free slot first); each
    /// input's outcomes go to `on_input` in order, once committed, and to the metrics.
    pub async fn run(
        &self,
        inputs: mpsc::Receiver<Input>,
        mut on_input: impl FnMut(InputDone),
    ) -> dmarc_store::Result<()> {
        // The semaphore is never closed.
        let _slot = self.slots.acquire().await.ok();
        let store: Store = self.store.clone();
        let mut accepted = false;
        let result = dmarc_store::ingest_inputs(store, inputs, self.options(), |done| {
            for outcome in &done.outcomes {
                self.metrics.ingested(outcome);
                accepted |= outcome.outcome == OutcomeStatus::Accepted;
            }
            on_input(done);
        })
        .await;
        if accepted {
            self.new_reports_stored().await;
        }
        result
    }

    /// Parses stored inputs again (only those never parsed when `pending_only`), under the
    /// same limits and slots as any ingestion.
    pub async fn reprocess(&self, pending_only: bool) -> dmarc_store::Result<ReprocessSummary> {
        let _slot = self.slots.acquire().await.ok();
        let summary = self.store.reprocess(self.options(), pending_only).await?;
        if summary.accepted > 0 {
            self.new_reports_stored().await;
        }
        Ok(summary)
    }
}
