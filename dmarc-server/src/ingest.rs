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
    Input, InputDone, NewJob, OutcomeStatus, PipelineOptions, ReprocessSummary, Store,
};
use tokio::sync::{Semaphore, mpsc};

use crate::config::{Config, LimitsConfig};
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
    /// Runs allowed to the alert evaluation queued after new reports.
    max_attempts: u32,
}

impl Ingest {
    /// Ingestion into `store` under the configured limits.
    pub fn new(store: Store, config: &Config, metrics: Arc<Metrics>) -> Ingest {
        let limits = &config.limits;
        Ingest {
            store,
            limits: limits.clone(),
            metrics,
            slots: Arc::new(Semaphore::new(limits.concurrent_ingests.max(1))),
            max_attempts: config.jobs.max_attempts,
        }
    }

    /// After new reports: an alert evaluation in [`EVALUATION_DELAY_MS`], unless one is
    /// queued already. A failure is logged: the reports are stored whatever happens here.
    async fn evaluate_alerts_soon(&self) {
        let now = crate::jobs::now_ms();
        let job = NewJob {
            kind: crate::jobs::JobKind::AlertEvaluation.as_str().to_owned(),
            payload: serde_json::json!({}),
            max_attempts: self.max_attempts,
            run_at: now + EVALUATION_DELAY_MS,
            created_by: "ingest".to_owned(),
        };
        if let Err(e) = self.store.enqueue_once(&job, now).await {
            tracing::warn!(error = %e, "cannot queue the alert evaluation after new reports");
        }
    }

    /// The pipeline's options: one parser, the configured batch and budget, parsing now.
    pub fn options(&self) -> PipelineOptions {
        PipelineOptions {
            batch_records: self.limits.ingest_batch_records,
            budget_records: self.limits.ingest_batch_records.saturating_mul(2),
            parsers: 1,
            rejected_keep_bytes: self.limits.rejected_payload_max_bytes,
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
            self.evaluate_alerts_soon().await;
        }
        result
    }

    /// Parses stored inputs again (only those never parsed when `pending_only`), under the
    /// same limits and slots as any ingestion.
    pub async fn reprocess(&self, pending_only: bool) -> dmarc_store::Result<ReprocessSummary> {
        let _slot = self.slots.acquire().await.ok();
        let summary = self.store.reprocess(self.options(), pending_only).await?;
        if summary.accepted > 0 {
            self.evaluate_alerts_soon().await;
        }
        Ok(summary)
    }
}
