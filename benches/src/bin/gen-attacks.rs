//! Writes hostile inputs to a folder, so `dmarc parse` can be measured on them
//! (`/usr/bin/time -v dmarc parse DIR/*`): billion laughs, an external entity, 10,000-deep
//! nesting, a 5 MB attribute, a 1 GiB gzip bomb and a zip bomb.
//!
//! `gen-attacks OUT_DIR`

use std::path::PathBuf;
use std::process::ExitCode;

fn billion_laughs() -> String {
    let mut xml =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        xml.push_str(&format!(
            " <!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    xml.push_str(
        "]>\n<feedback><report_metadata><org_name>&lol9;</org_name></report_metadata></feedback>\n",
    );
    xml
}

fn main() -> ExitCode {
    let Some(out) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: gen-attacks OUT_DIR");
        return ExitCode::from(2);
    };
    let valid = dmarc_benches::Generator::new(1)
        .report(
            dmarc_benches::Reporter::Yahoo,
            "example.com",
            1_700_000_000,
            3,
        )
        .xml;
    let deep = valid.replace(
        "<record>",
        &format!("{}{}<record>", "<a>".repeat(10_000), "</a>".repeat(10_000)),
    );
    let attribute = valid.replace(
        "<report_metadata>",
        &format!("<report_metadata a=\"{}\">", "x".repeat(5 << 20)),
    );
    let xxe = "<?xml version=\"1.0\"?>\n<!DOCTYPE feedback [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<feedback><report_metadata><org_name>&xxe;</org_name></report_metadata></feedback>\n";
    let attacks_dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dmarc-core/tests/data/attacks");
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("billion-laughs.xml", billion_laughs().into_bytes()),
        ("external-entity.xml", xxe.as_bytes().to_vec()),
        ("deep-nesting.xml", deep.into_bytes()),
        ("big-attribute.xml", attribute.into_bytes()),
        (
            "gzip-bomb-1gib.xml.gz",
            std::fs::read(attacks_dir.join("zeros-1gib.xml.gz")).unwrap_or_default(),
        ),
        (
            "zip-bomb-1gib.zip",
            std::fs::read(attacks_dir.join("zeros-1gib.zip")).unwrap_or_default(),
        ),
    ];
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("{}: {e}", out.display());
        return ExitCode::from(1);
    }
    for (name, bytes) in files {
        if bytes.is_empty() {
            eprintln!("{name}: source fixture missing");
            return ExitCode::from(1);
        }
        if let Err(e) = std::fs::write(out.join(name), bytes) {
            eprintln!("{name}: {e}");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
