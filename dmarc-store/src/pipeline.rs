//! The one ingestion path for every source (files, uploads, mailboxes, the demo, stored
//! inputs parsed again): inputs in, one outcome per payload out, with memory bounded by
//! limits, not by what was sent. Between parsing and writing, an [`Enrich`] step may add to
//! each report.
//!
//! Inputs are parsed on [`PipelineOptions::parsers`] threads of the run, each holding one
//! input and the XML of one payload at a time; records become rows as they are read
//! ([`dmarc_core::parse_input_into`]). Rows wait for the one writer under a budget of
//! [`PipelineOptions::budget_records`]: a parser that would go over it waits until what it
//! already sent is committed, and a parser does not open a new input while more rows than
//! the budget (or more than [`PipelineOptions::batch_bytes`] of kept raw inputs) wait for
//! the writer. The writer commits batches of about [`PipelineOptions::batch_records`]
//! records or `batch_bytes` of raw inputs, whichever comes first; each report is written
//! whole in one transaction, and the reports of one large input may go in several (its raw
//! bytes are stored once). Peak memory is therefore about
//!
//! `parsers x (one input + one payload's XML + budget rows) + max(budget, largest report) rows
//!  + batch_bytes + parsers x one compressed input`
//!
//! where a row costs about 215 bytes (measured with massif on a 270,000-record report).

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use dmarc_core::{Error, ParseOptions, Parsed, Record, ReportSink, parse_input_into};
use tokio::sync::mpsc;

use crate::Result;
use crate::prepare::{KEPT_HEAD, Prepared, PreparedPart, ReportRows, RowSink, gzip, hex_sha256};
use crate::store::Store;
use crate::types::Outcome;
use crate::write::OnSameXml;

/// One input to ingest.
#[derive(Debug)]
pub struct Input {
    /// Its name (a path, an upload's file name, a message id).
    pub name: String,
    /// Its bytes, or why they could not be read (such an input is reported, not stored).
    pub bytes: std::result::Result<Vec<u8>, Error>,
}

/// How the pipeline runs.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// How to parse (limits, strictness, the time of ingestion).
    pub parse: ParseOptions,
    /// Records per write transaction, about (a larger report goes whole).
    pub batch_records: u64,
    /// Rows that may wait for the writer before parsers wait.
    pub budget_records: u64,
    /// Bytes of kept raw inputs (compressed) per write transaction, about: a batch of many
    /// large inputs with few records ends here rather than at `batch_records`, and parsers
    /// wait before a new input while this much waits for the writer.
    pub batch_bytes: u64,
    /// Inputs parsed at once.
    pub parsers: usize,
    /// Largest input kept whole when it holds no report; a larger one is kept as its
    /// SHA-256, size and first 64 KiB.
    pub rejected_keep_bytes: u64,
    /// Reports already stored from the same XML are rewritten from the new parse instead
    /// of reported as duplicates (set by [`Store::reprocess`]).
    pub rewrite_same_xml: bool,
    /// Runs on every report between parsing and writing, on the parser threads.
    pub enrich: Option<Arc<dyn Enrich>>,
}

/// A step of the pipeline between parsing and writing: it sees every report about to be
/// written, whatever its source (files, uploads, mailboxes, the demo, reprocessing), on the
/// parser threads (so it runs on as many cores as parsing). This is where data derived
/// from a report joins it before it is stored (geolocation of the source addresses).
pub trait Enrich: Send + Sync + std::fmt::Debug {
    /// Called once per report parsed, before it is batched for writing.
    fn enrich(&self, report: &mut ReportRows);
}

impl PipelineOptions {
    /// One parser, transactions of 20,000 records, a budget of twice that.
    pub fn new(parse: ParseOptions) -> Self {
        PipelineOptions {
            parse,
            batch_records: 20_000,
            budget_records: 40_000,
            batch_bytes: 64 << 20,
            parsers: 1,
            rejected_keep_bytes: 1 << 20,
            rewrite_same_xml: false,
            enrich: None,
        }
    }
}

/// The outcomes of one input, once all of them are committed.
#[derive(Debug, Clone)]
pub struct InputDone {
    /// Position of the input in the order it was given.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// Its size in bytes (0 when it could not be read).
    pub size: u64,
    /// One per payload found.
    pub outcomes: Vec<Outcome>,
}

/// Ingests every input received on `inputs` until the channel closes, and hands each
/// input's outcomes to `on_input` in input order, as soon as they are committed.
pub async fn run(
    store: Store,
    inputs: mpsc::Receiver<Input>,
    options: PipelineOptions,
    mut on_input: impl FnMut(InputDone),
) -> Result<()> {
    let budget = Arc::new(Budget::new(options.budget_records, options.batch_bytes));
    let next_index = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Room for many small inputs, so the writer finds full batches; the budget, not the
    // channel, bounds what waits in memory.
    let (chunks, mut received) = mpsc::channel::<Chunk>(CHUNKS_WAITING);
    // The inputs are parsed on `parsers` threads of this run, each taking the next input:
    // an allocator arena per thread serves one input after another, instead of each input
    // leaving its freed memory in the arena of another short-lived thread.
    let inputs = Arc::new(tokio::sync::Mutex::new(inputs));
    let parsers: Vec<_> = (0..options.parsers.max(1))
        .map(|_| {
            let (inputs, budget, chunks, options) = (
                Arc::clone(&inputs),
                Arc::clone(&budget),
                chunks.clone(),
                options.clone(),
            );
            let next = Arc::clone(&next_index);
            std::thread::Builder::new()
                .name("dmarc-parse".into())
                .spawn(move || {
                    loop {
                        // One parser at a time picks the next input, so indexes follow the
                        // order inputs were sent in.
                        let (index, input) = {
                            let mut inputs = inputs.blocking_lock();
                            let Some(input) = inputs.blocking_recv() else {
                                break;
                            };
                            let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            (index, input)
                        };
                        parse_one(index, input, &options, &budget, &chunks);
                        if chunks.is_closed() {
                            break;
                        }
                    }
                })
        })
        .collect::<std::io::Result<_>>()?;
    drop(chunks);
    let written = write(&store, &mut received, &options, &budget, &mut on_input).await;
    // On a write error, parsers waiting for room must not wait for ever, and stop sending.
    budget.close();
    drop(received);
    let mut panicked = false;
    for parser in parsers {
        let finished = tokio::task::spawn_blocking(move || parser.join()).await;
        panicked |= !matches!(finished, Ok(Ok(())));
    }
    // Parsing does not panic; if it ever did, the inputs it held were not reported.
    if panicked && written.is_ok() {
        return Err(crate::StoreError::Corrupt(
            "a parser thread panicked; some inputs were not ingested".into(),
        ));
    }
    written
}

/// The writer: batches chunks, commits them, hands finished inputs over in order.
async fn write(
    store: &Store,
    received: &mut mpsc::Receiver<Chunk>,
    options: &PipelineOptions,
    budget: &Budget,
    on_input: &mut impl FnMut(InputDone),
) -> Result<()> {
    let mut open: BTreeMap<usize, (InputDone, bool)> = BTreeMap::new();
    let mut next = 0usize;
    let mut places = Places::default();
    while let Some(first) = received.recv().await {
        let (mut records, mut bytes) = (first.records, first.bytes);
        let mut batch = vec![first];
        while records < options.batch_records && bytes < options.batch_bytes {
            match received.try_recv() {
                Ok(chunk) => {
                    records += chunk.records;
                    bytes += chunk.bytes;
                    batch.push(chunk);
                }
                Err(_) => break,
            }
        }
        let mut storable: Vec<Prepared> = batch
            .iter_mut()
            .filter(|c| c.stored && !c.prepared.parts.is_empty())
            .map(|c| {
                let parts = std::mem::take(&mut c.prepared.parts);
                Prepared {
                    parts,
                    ..c.prepared.clone()
                }
            })
            .collect();
        places.take(&mut storable);
        let mut outcomes = if storable.is_empty() {
            Vec::new()
        } else {
            let on_same_xml = if options.rewrite_same_xml {
                OnSameXml::Rewrite
            } else {
                OnSameXml::Keep
            };
            store.write_batch(&storable, on_same_xml).await?
        }
        .into_iter();
        if places.full() {
            places.flush(store).await?;
        }
        // The rows go before the budget is given back: a parser that wakes up must find
        // their memory free, not allocate beside it.
        drop(storable);
        budget.committed(records, bytes);
        for chunk in batch {
            let done = &mut open.entry(chunk.index).or_insert_with(|| {
                let done = InputDone {
                    index: chunk.index,
                    name: chunk.prepared.name.clone(),
                    size: chunk.prepared.size,
                    outcomes: Vec::new(),
                };
                (done, false)
            });
            if chunk.stored {
                if chunk.sent_parts > 0 {
                    done.0.outcomes.extend(outcomes.next().unwrap_or_default());
                }
            } else {
                done.0
                    .outcomes
                    .extend(chunk.prepared.parts.into_iter().map(|part| {
                        Outcome::rejected(&chunk.prepared.name, part.part, part.result.err())
                    }));
            }
            done.1 |= chunk.last;
        }
        while open.get(&next).is_some_and(|(_, last)| *last) {
            if let Some((done, _)) = open.remove(&next) {
                on_input(done);
            }
            next += 1;
        }
    }
    places.flush(store).await
}

/// Places the enrichment step added, written behind the reports: in sorted runs of up to
/// [`Places::FLUSH`] addresses, each in one transaction, and at the end of the run. Written
/// with every batch instead, a table keyed by address has most of its pages rewritten at
/// each commit (measured: ingest time +12-15 % with places placed, instead of +6 %). Places
/// are derived data: if the process stops before they are written, the refresh job looks
/// the addresses up again (they are never placed).
#[derive(Debug, Default)]
struct Places {
    waiting: std::collections::HashMap<std::net::IpAddr, crate::types::Place>,
}

impl Places {
    /// Addresses waiting at most.
    const FLUSH: usize = 200_000;

    /// Takes the places of `batch`'s reports (kept whatever becomes of the reports: they
    /// are facts about addresses).
    fn take(&mut self, batch: &mut [Prepared]) {
        for part in batch.iter_mut().flat_map(|input| &mut input.parts) {
            if let Ok(rows) = &mut part.result {
                for place in std::mem::take(&mut rows.places) {
                    self.waiting.insert(place.ip, place);
                }
            }
        }
    }

    fn full(&self) -> bool {
        self.waiting.len() >= Self::FLUSH
    }

    async fn flush(&mut self, store: &Store) -> Result<()> {
        if self.waiting.is_empty() {
            return Ok(());
        }
        let places: Vec<crate::types::Place> =
            std::mem::take(&mut self.waiting).into_values().collect();
        store.put_places(&places).await
    }
}

/// Part of an input on its way to the writer: payloads whose reports are complete.
#[derive(Debug)]
struct Chunk {
    index: usize,
    prepared: Prepared,
    /// Parts in `prepared` when it was sent.
    sent_parts: usize,
    /// Records of its reports.
    records: u64,
    /// Bytes of the kept raw input it brings (the input's first chunk only).
    bytes: u64,
    /// False for an input that could not be read (reported, not stored).
    stored: bool,
    /// The input's last chunk.
    last: bool,
}

/// Parses one input on a blocking thread, sending its reports to the writer in chunks.
fn parse_one(
    index: usize,
    input: Input,
    options: &PipelineOptions,
    budget: &Budget,
    chunks: &mpsc::Sender<Chunk>,
) {
    let bytes = match input.bytes {
        Ok(bytes) => bytes,
        Err(error) => {
            let _ = chunks.blocking_send(Chunk {
                index,
                prepared: Prepared::unreadable(input.name, error),
                sent_parts: 1,
                records: 0,
                bytes: 0,
                stored: false,
                last: true,
            });
            return;
        }
    };
    budget.wait_for_room();
    let mut sink = ChunkSink {
        index,
        header: Prepared {
            name: input.name,
            sha256: hex_sha256(&bytes),
            size: bytes.len() as u64,
            compressed: Arc::from(Vec::new()),
            truncated: false,
            parts: Vec::new(),
        },
        bytes: &bytes,
        rejected_keep_bytes: options.rejected_keep_bytes,
        enrich: options.enrich.as_deref(),
        rows: RowSink::default(),
        records: 0,
        held: 0,
        batch_records: options.batch_records,
        budget,
        chunks,
        closed: false,
    };
    parse_input_into(&bytes, &options.parse, &mut sink);
    sink.send(true);
}

/// Chunks that may wait for the writer (each input sends at least one).
const CHUNKS_WAITING: usize = 256;

/// Rows taken from the budget at a time.
const BUDGET_STEP: u64 = 1024;

/// Turns a streaming parse into chunks for the writer.
struct ChunkSink<'a> {
    index: usize,
    /// Name, digest, size, and (once the first chunk goes) the compressed bytes.
    header: Prepared,
    bytes: &'a [u8],
    rejected_keep_bytes: u64,
    enrich: Option<&'a dyn Enrich>,
    rows: RowSink,
    /// Records of the complete reports not sent yet.
    records: u64,
    /// Rows of the payload being read, taken from the budget.
    held: u64,
    batch_records: u64,
    budget: &'a Budget,
    chunks: &'a mpsc::Sender<Chunk>,
    /// The writer has gone (an error): parse on, send nothing.
    closed: bool,
}

impl ChunkSink<'_> {
    fn send(&mut self, last: bool) {
        if self.closed {
            return;
        }
        let first = self.header.compressed.is_empty();
        if first {
            // Decided with the first chunk: an input sent in several chunks held reports.
            let nothing = last && self.rows.parts.iter().all(|p| p.result.is_err());
            let keep = if nothing && self.header.size > self.rejected_keep_bytes {
                self.header.truncated = true;
                &self.bytes[..self.bytes.len().min(KEPT_HEAD)]
            } else {
                self.bytes
            };
            self.header.compressed = Arc::from(gzip(keep));
        }
        let parts: Vec<PreparedPart> = std::mem::take(&mut self.rows.parts);
        let records = std::mem::take(&mut self.records);
        let bytes = if first {
            self.header.compressed.len() as u64
        } else {
            0
        };
        self.budget.sent(records, bytes);
        let chunk = Chunk {
            index: self.index,
            sent_parts: parts.len(),
            prepared: Prepared {
                parts,
                ..self.header.clone()
            },
            records,
            bytes,
            stored: true,
            last,
        };
        self.closed = self.chunks.blocking_send(chunk).is_err();
    }
}

impl ReportSink for ChunkSink<'_> {
    fn record(&mut self, record: Record) {
        self.rows.record(record);
        self.held += 1;
        if self.held.is_multiple_of(BUDGET_STEP) {
            self.budget.take(BUDGET_STEP);
        }
    }

    fn payload(&mut self, parsed: Parsed) {
        let held = std::mem::take(&mut self.held);
        let accepted = parsed.result.is_ok();
        self.rows.payload(parsed);
        if let (Some(enrich), Some(Ok(report))) = (
            self.enrich,
            self.rows.parts.last_mut().map(|p| p.result.as_mut()),
        ) {
            enrich.enrich(report);
        }
        // Settle the budget with what the payload keeps: its rows, or none when rejected.
        let taken = held - held % BUDGET_STEP;
        if accepted {
            self.budget.take(held - taken);
            self.records += held;
        } else {
            self.budget.dropped(taken);
        }
        if self.records >= self.batch_records {
            self.send(false);
        }
    }
}

/// Rows built but not committed, and bytes of raw inputs sent but not committed, shared
/// by the parsers and the writer.
#[derive(Debug)]
struct Budget {
    limit: u64,
    limit_bytes: u64,
    state: Mutex<BudgetState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct BudgetState {
    /// Rows held by parsers (reports being read or not sent yet).
    held: u64,
    /// Rows sent to the writer and not committed yet.
    sent: u64,
    /// Bytes of kept raw inputs sent to the writer and not committed yet.
    sent_bytes: u64,
    /// The writer stopped: nobody waits any more.
    closed: bool,
}

impl Budget {
    fn new(limit: u64, limit_bytes: u64) -> Self {
        Budget {
            limit: limit.max(BUDGET_STEP),
            limit_bytes: limit_bytes.max(1),
            state: Mutex::new(BudgetState::default()),
            changed: Condvar::new(),
        }
    }

    /// Waits on the state until `blocked` is false or the writer stopped.
    fn wait_while(&self, blocked: impl Fn(&BudgetState) -> bool) -> MutexGuard<'_, BudgetState> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while !state.closed && blocked(&state) {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state
    }

    fn update(&self, change: impl FnOnce(&mut BudgetState)) {
        change(&mut self.wait_while(|_| false));
        self.changed.notify_all();
    }

    /// Takes `n` rows for a parser, waiting while that would exceed the limit and rows
    /// already sent can still be committed. Only the writer's progress is waited for, so a
    /// report larger than the limit still completes (alone) and parsers never wait for
    /// each other.
    fn take(&self, n: u64) {
        let limit = self.limit;
        self.wait_while(|s| s.sent > 0 && s.held + s.sent + n > limit)
            .held += n;
    }

    /// Waits until fewer rows, and fewer bytes of raw inputs, than the limits wait for the
    /// writer (before a new input).
    fn wait_for_room(&self) {
        let (limit, limit_bytes) = (self.limit, self.limit_bytes);
        drop(self.wait_while(|s| s.sent >= limit || s.sent_bytes >= limit_bytes));
    }

    /// `n` rows (and `bytes` of a raw input) go from a parser to the writer.
    fn sent(&self, n: u64, bytes: u64) {
        self.update(|s| {
            s.held = s.held.saturating_sub(n);
            s.sent += n;
            s.sent_bytes += bytes;
        });
    }

    /// A parser drops `n` rows (a payload rejected after its records were read).
    fn dropped(&self, n: u64) {
        self.update(|s| s.held = s.held.saturating_sub(n));
    }

    /// The writer committed `n` rows and `bytes` of raw inputs.
    fn committed(&self, n: u64, bytes: u64) {
        self.update(|s| {
            s.sent = s.sent.saturating_sub(n);
            s.sent_bytes = s.sent_bytes.saturating_sub(bytes);
        });
    }

    fn close(&self) {
        self.update(|s| s.closed = true);
    }
}
