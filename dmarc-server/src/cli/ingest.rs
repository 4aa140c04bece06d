//! `dmarc ingest`: report files into the database, one outcome per payload.
//!
//! Files go through the store's ingestion pipeline ([`dmarc_store::ingest_inputs`]): parsed
//! on every core, one file per core at a time, written in transactions of about
//! `--batch-records` records, with memory bounded by those numbers rather than by the files.
//! A killed run leaves only whole reports behind, and rerunning it finishes the job:
//! everything already stored comes back as a duplicate.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use dmarc_core::ParseOptions;
use dmarc_store::{Input, Outcome, OutcomeTally, PipelineOptions, Store};
use serde::Serialize;

use super::inputs;
use super::parse::safe;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// One line per outcome and a summary, for people.
    Text,
    /// One JSON object per outcome, then `{"summary": {...}}`.
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct IngestArgs {
    #[command(flatten)]
    database: super::DatabaseArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Reject reports with any diagnostic of severity warning or error.
    #[arg(long)]
    strict: bool,
    /// Records per database transaction (an input is never split across two).
    #[arg(long, default_value_t = 20_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    batch_records: u64,
    /// Files or folders (read recursively): XML, gzip, zlib, zip, .eml, .mbox.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// Totals printed at the end.
type Summary = OutcomeTally;

#[derive(Serialize)]
struct JsonOutcome<'a> {
    source: String,
    #[serde(flatten)]
    outcome: &'a Outcome,
}

pub(crate) fn run(args: &IngestArgs) -> ExitCode {
    let files = match inputs::expand(&args.paths) {
        Ok(files) => files,
        Err(inputs::MissingPath(path)) => {
            eprintln!("dmarc ingest: no such file or folder: {}", path.display());
            return ExitCode::from(2);
        }
    };
    let options = ParseOptions {
        strict: args.strict,
        ..ParseOptions::at(dmarc_store::unix_now())
    };
    let enrich = match super::geo_from_env("ingest") {
        Ok(enrich) => enrich,
        Err(code) => return code,
    };
    super::runtime().block_on(async {
        let store = match super::open_store(&args.database, "ingest").await {
            Ok(store) => store,
            Err(code) => return code,
        };
        match ingest(store, &files, &options, args, enrich).await {
            Ok(summary) if summary.rejected > 0 => ExitCode::from(1),
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("dmarc ingest: {e}");
                ExitCode::from(2)
            }
        }
    })
}

async fn ingest(
    store: Store,
    files: &[PathBuf],
    options: &ParseOptions,
    args: &IngestArgs,
    enrich: Option<std::sync::Arc<dyn dmarc_store::Enrich>>,
) -> Result<Summary, dmarc_store::StoreError> {
    let format = args.format;
    let parsers = std::thread::available_parallelism().map_or(1, usize::from);
    // One file read ahead: files waiting to be parsed are at most one more than parsers.
    let (sender, inputs) = tokio::sync::mpsc::channel::<Input>(1);
    let owned: Vec<PathBuf> = files.to_vec();
    let limits = options.limits.clone();
    let reader = std::thread::spawn(move || {
        for file in owned {
            let input = Input {
                name: file.display().to_string(),
                bytes: inputs::read(&file, &limits),
            };
            if sender.blocking_send(input).is_err() {
                return;
            }
        }
    });
    let progress = Progress::new(files.len());
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut summary = Summary::default();
    let mut done = 0usize;
    let pipeline = PipelineOptions {
        batch_records: args.batch_records,
        budget_records: args.batch_records.saturating_mul(2),
        parsers,
        enrich,
        ..PipelineOptions::new(options.clone())
    };
    let result = dmarc_store::ingest_inputs(store, inputs, pipeline, |input| {
        done += 1;
        for outcome in &input.outcomes {
            summary.add(outcome);
            // A closed stdout stops the output, not the ingestion.
            let _ = write_outcome(&mut out, outcome, format);
        }
        let _ = out.flush();
        progress.show(done, &summary);
    })
    .await;
    progress.finish();
    // The reader ends when its channel closes; a panic there is a bug worth seeing.
    if reader.join().is_err() {
        eprintln!("dmarc ingest: the file reader panicked");
    }
    result?;
    let _ = write_summary(&mut out, &summary, format);
    let _ = out.flush();
    Ok(summary)
}

fn write_outcome(out: &mut impl Write, outcome: &Outcome, format: Format) -> io::Result<()> {
    let source = inputs::source_name(&outcome.input, outcome.part.as_deref());
    match format {
        Format::Json => {
            serde_json::to_writer(&mut *out, &JsonOutcome { source, outcome })?;
            out.write_all(b"\n")
        }
        Format::Text => {
            let detail = match (&outcome.report, &outcome.error) {
                (Some(report), _) => {
                    let conflict = outcome
                        .conflict_with
                        .map(|id| format!(" (same report id as report {id}, other period)"))
                        .unwrap_or_default();
                    format!(
                        "report {} ({} {} for {}), {} records{conflict}",
                        report.id,
                        safe(&report.reporter),
                        safe(&report.report_id),
                        safe(&report.domain),
                        outcome.records
                    )
                }
                (None, Some(error)) => format!("{}: {}", error.kind, safe(&error.message)),
                (None, None) => String::new(),
            };
            writeln!(
                out,
                "{:<9}  {}  {detail}",
                outcome.outcome.as_str(),
                safe(&source)
            )
        }
    }
}

fn write_summary(out: &mut impl Write, summary: &Summary, format: Format) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer(&mut *out, &serde_json::json!({ "summary": summary }))?;
            out.write_all(b"\n")
        }
        Format::Text => writeln!(
            out,
            "{} accepted, {} duplicate, {} rejected; {} records, {} messages stored",
            summary.accepted,
            summary.duplicate,
            summary.rejected,
            summary.records,
            summary.messages
        ),
    }
}

/// A one-line progress bar on stderr, shown only when stderr is a terminal.
struct Progress {
    total: usize,
    started: Instant,
    enabled: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        Progress {
            total,
            started: Instant::now(),
            enabled: io::stderr().is_terminal(),
        }
    }

    fn show(&self, done: usize, summary: &Summary) {
        if !self.enabled {
            return;
        }
        const WIDTH: usize = 30;
        let filled = (done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        eprint!(
            "\r[{}{}] {done}/{} inputs  {} records  {:.0} records/s ",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled.min(WIDTH)),
            self.total,
            summary.records,
            summary.records as f64 / seconds
        );
    }

    fn finish(&self) {
        if self.enabled {
            eprintln!();
        }
    }
}
