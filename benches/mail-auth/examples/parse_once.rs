//! Parses one XML file once with dmarc-core or mail-auth, for instruction counts:
//! `cargo build --release --examples --manifest-path benches/mail-auth/Cargo.toml`, then
//! `valgrind --tool=callgrind .../release/examples/parse_once dmarc-core FILE` (or `mail-auth`).

fn main() {
    let mut args = std::env::args().skip(1);
    let (which, path) = (
        args.next().unwrap_or_default(),
        args.next().unwrap_or_default(),
    );
    let xml = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let records = match which.as_str() {
        "dmarc-core" => dmarc_core::parse_xml(&xml, &Default::default())
            .map(|r| r.records.len())
            .unwrap_or(0),
        "mail-auth" => mail_auth::report::Report::parse_xml(&xml)
            .map(|r| r.records().len())
            .unwrap_or(0),
        other => panic!("unknown parser {other:?}"),
    };
    println!("{which}: {records} records");
}
