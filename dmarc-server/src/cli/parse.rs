//! `dmarc parse`: reports from files, printed as NDJSON or a table.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dmarc_core::{Error, ParseOptions, Parsed, Report, Severity, parse_input, rollup};
use rayon::prelude::*;
use serde::Serialize;

use super::inputs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// One JSON object per report (NDJSON).
    Json,
    /// A readable summary per report.
    Table,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ParseArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Reject a report when any diagnostic of severity warning or error was recorded.
    #[arg(long)]
    strict: bool,
    /// Files or folders (read recursively).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// Files parsed in parallel at a time; output stays in input order.
const BATCH: usize = 256;

pub(crate) fn run(args: &ParseArgs) -> ExitCode {
    let files = match inputs::expand(&args.paths) {
        Ok(files) => files,
        Err(inputs::MissingPath(path)) => {
            eprintln!("dmarc parse: no such file or folder: {}", path.display());
            return ExitCode::from(2);
        }
    };
    let options = ParseOptions {
        strict: args.strict,
        ..ParseOptions::at(dmarc_store::unix_now())
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut rejected = false;
    for batch in files.chunks(BATCH) {
        let results: Vec<Vec<Parsed>> = batch
            .par_iter()
            .map(|file| parse_file(file, &options))
            .collect();
        for (file, parsed) in batch.iter().zip(&results) {
            for item in parsed {
                rejected |= item.result.is_err();
                let source = inputs::source_name(&file.display().to_string(), item.part.as_deref());
                let written = match args.format {
                    Format::Json => write_json(&mut out, &source, &item.result),
                    Format::Table => write_table(&mut out, &source, &item.result),
                };
                if let Err(e) = written {
                    return broken_pipe(&e);
                }
            }
        }
    }
    if let Err(e) = out.flush() {
        return broken_pipe(&e);
    }
    if rejected {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// A closed stdout (`dmarc parse ... | head`) ends the command quietly.
fn broken_pipe(e: &io::Error) -> ExitCode {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return ExitCode::SUCCESS;
    }
    eprintln!("dmarc parse: cannot write output: {e}");
    ExitCode::from(1)
}

fn parse_file(file: &Path, options: &ParseOptions) -> Vec<Parsed> {
    match inputs::read(file, &options.limits) {
        Ok(bytes) => parse_input(&bytes, options),
        Err(error) => vec![Parsed {
            part: None,
            result: Err(error),
        }],
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    source: &'a str,
    #[serde(flatten)]
    report: &'a Report,
}

#[derive(Serialize)]
struct JsonError<'a> {
    source: &'a str,
    error: &'a Error,
}

fn write_json(
    out: &mut impl Write,
    source: &str,
    result: &Result<Report, Error>,
) -> io::Result<()> {
    match result {
        Ok(report) => serde_json::to_writer(&mut *out, &JsonReport { source, report })?,
        Err(error) => serde_json::to_writer(&mut *out, &JsonError { source, error })?,
    }
    out.write_all(b"\n")
}

fn write_table(
    out: &mut impl Write,
    source: &str,
    result: &Result<Report, Error>,
) -> io::Result<()> {
    let report = match result {
        Ok(report) => report,
        Err(error) => {
            return writeln!(
                out,
                "{}\n  REJECTED {}: {}\n",
                safe(source),
                error.kind,
                safe(&error.message)
            );
        }
    };
    let meta = &report.report_metadata;
    let policy = &report.policy_published;
    let effective = &report.policy_effective;
    let tally = rollup::summary(std::slice::from_ref(report), &dmarc_core::Filter::default()).tally;
    let percent = |n: u64| {
        if tally.messages == 0 {
            0.0
        } else {
            100.0 * n as f64 / tally.messages as f64
        }
    };
    writeln!(out, "{}", safe(source))?;
    writeln!(
        out,
        "  reporter  {} <{}>  report {}  ({})",
        safe(meta.org_name.as_deref().unwrap_or("-")),
        safe(meta.email.as_deref().unwrap_or("-")),
        safe(&meta.report_id),
        report.dialect.as_str(),
    )?;
    writeln!(
        out,
        "  domain    {}  p={} sp={} np={} adkim={} aspf={} pct={}",
        safe(&policy.domain),
        safe(effective.p.as_str()),
        safe(effective.sp.as_str()),
        safe(effective.np.as_str()),
        safe(effective.adkim.as_str()),
        safe(effective.aspf.as_str()),
        effective.pct,
    )?;
    writeln!(
        out,
        "  period    {} .. {} UTC",
        timestamp(meta.date_range.begin),
        timestamp(meta.date_range.end)
    )?;
    writeln!(
        out,
        "  records   {}  messages {}  DMARC pass {:.1}%  aligned DKIM {:.1}%  aligned SPF {:.1}%",
        report.records.len(),
        tally.messages,
        percent(tally.dmarc_pass),
        percent(tally.dkim_aligned_pass),
        percent(tally.spf_aligned_pass),
    )?;
    for d in &report.diagnostics {
        let level = match d.severity {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        writeln!(out, "  {level:<8}  {}", safe(&d.to_string()))?;
    }
    writeln!(out)
}

/// Report text is untrusted: control characters would drive the terminal.
pub(crate) fn safe(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn timestamp(secs: i64) -> String {
    let day = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02}:{:02}",
        rollup::format_day(day),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
