//! Ingestion in the server process: uploads, mailbox passes and reprocessing all run the
//! store's one pipeline ([`dmarc_store::ingest_inputs`]) through here, with the configured
//! limits, counted in the metrics, and at most `limits.concurrent_ingests` at a time (a
//! further one waits), so the memory of the process is bounded by the configuration:
//! about `concurrent_ingests x (one input + one payload's XML + the row budget)`.

use std::sync::Arc;

use dmarc_core::ParseOptions;
use dmarc_store::{Input, InputDone, PipelineOptions, ReprocessSummary, Store};
use tokio::sync::{Semaphore, mpsc};

use crate::config::LimitsConfig;
use crate::metrics::Metrics;

/// What ingestion runs with; cheap to clone.
#[derive(Debug, Clone)]
pub struct Ingest {
    store: Store,
    limits: LimitsConfig,
    metrics: Arc<Metrics>,
    slots: Arc<Semaphore>,
}

impl Ingest {
    /// Ingestion into `store` under `limits`.
    pub fn new(store: Store, limits: &LimitsConfig, metrics: Arc<Metrics>) -> Ingest {
        Ingest {
            store,
            limits: limits.clone(),
            metrics,
            slots: Arc::new(Semaphore::new(limits.concurrent_ingests.max(1))),
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
        dmarc_store::ingest_inputs(store, inputs, self.options(), |done| {
            for outcome in &done.outcomes {
                self.metrics.ingested(outcome);
            }
            on_input(done);
        })
        .await
    }

    /// Parses stored inputs again (only those never parsed when `pending_only`), under the
    /// same limits and slots as any ingestion.
    pub async fn reprocess(&self, pending_only: bool) -> dmarc_store::Result<ReprocessSummary> {
        let _slot = self.slots.acquire().await.ok();
        self.store.reprocess(self.options(), pending_only).await
    }
}
