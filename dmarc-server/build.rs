//! Embeds the sample reports of `dmarc serve --demo`: the aggregate reports of the test
//! corpus (MIT / Apache-2.0, see dmarc-core/tests/data/corpus/LICENSES.md).

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../dmarc-core/tests/data/corpus/aggregate");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("the corpus folder")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.is_file())
        .collect();
    names.sort();
    let mut out = String::from(
        "/// Sample reports: (file name, bytes).\npub static DEMO_REPORTS: &[(&str, &[u8])] = &[\n",
    );
    for path in names {
        let name = path.file_name().expect("a name").to_string_lossy();
        let absolute = path.canonicalize().expect("a path");
        let _ = writeln!(
            out,
            "    ({name:?}, include_bytes!({:?})),",
            absolute.display().to_string()
        );
    }
    out.push_str("];\n");
    let target = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("demo_reports.rs");
    std::fs::write(target, out).expect("write demo_reports.rs");
}
