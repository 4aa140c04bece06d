//! Writes generated reports to a folder.
//!
//! `gen-reports OUT_DIR [--reports N] [--records TOTAL] [--domains N] [--seed S]
//!  [--container xml|gz|zip|eml|mix]`
//!
//! `mix` packages each report the way its reporter does (zip for Google, gzip otherwise).
//! Prints the totals a correct parser must find, as one JSON line.

use std::path::PathBuf;
use std::process::ExitCode;

use dmarc_benches::{Container, Generator};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut out: Option<PathBuf> = None;
    let (mut reports, mut records, mut domains, mut seed) = (10usize, 100_000usize, 5usize, 1u64);
    let mut container: Option<Container> = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--reports" => reports = value().parse().unwrap_or(reports),
            "--records" => records = value().parse().unwrap_or(records),
            "--domains" => domains = value().parse().unwrap_or(domains),
            "--seed" => seed = value().parse().unwrap_or(seed),
            "--container" => {
                container = match value().as_str() {
                    "xml" => Some(Container::Xml),
                    "gz" => Some(Container::Gzip),
                    "zip" => Some(Container::Zip),
                    "eml" => Some(Container::Eml),
                    "mix" => None,
                    other => {
                        eprintln!("unknown container {other:?}");
                        return ExitCode::from(2);
                    }
                }
            }
            _ if out.is_none() && !arg.starts_with("--") => out = Some(PathBuf::from(arg)),
            _ => {
                eprintln!(
                    "usage: gen-reports OUT_DIR [--reports N] [--records TOTAL] [--domains N] [--seed S] [--container xml|gz|zip|eml|mix]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let Some(out) = out else {
        eprintln!("usage: gen-reports OUT_DIR [options]");
        return ExitCode::from(2);
    };
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("{}: {e}", out.display());
        return ExitCode::from(1);
    }
    let mut generator = Generator::new(seed);
    let (mut total_records, mut messages, mut xml_bytes, mut file_bytes) =
        (0usize, 0u64, 0usize, 0usize);
    for report in generator.batch(reports, domains, 1_700_000_000, records) {
        let chosen = container.unwrap_or_else(|| report.reporter.usual_container());
        let bytes = report.container(chosen);
        if let Err(e) = std::fs::write(out.join(report.file_name(chosen)), &bytes) {
            eprintln!("{}: {e}", out.display());
            return ExitCode::from(1);
        }
        total_records += report.records;
        messages += report.messages;
        xml_bytes += report.xml.len();
        file_bytes += bytes.len();
    }
    println!(
        "{{\"reports\": {reports}, \"records\": {total_records}, \"messages\": {messages}, \"xml_bytes\": {xml_bytes}, \"file_bytes\": {file_bytes}}}"
    );
    ExitCode::SUCCESS
}
