//! Embeds the sample reports of `dmarc serve --demo` (the aggregate reports of the test
//! corpus, MIT / Apache-2.0, see dmarc-core/tests/data/corpus/LICENSES.md) and the
//! dashboard: the files of `web/src` and the distribution files of its npm dependencies,
//! installed from `web/package-lock.json` into `OUT_DIR` by `npm ci` (once per lock file).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    demo_reports();
    dashboard();
}

fn out_dir() -> PathBuf {
    PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"))
}

/// This package's folder, as Cargo gives it when the script runs (not when it was
/// compiled: one compiled script may serve checkouts in other places).
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"))
}

fn demo_reports() {
    let dir = manifest_dir().join("../dmarc-core/tests/data/corpus/aggregate");
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
    std::fs::write(out_dir().join("demo_reports.rs"), out).expect("write demo_reports.rs");
}

/// Files of npm packages the dashboard serves: (package path, served name).
const VENDORED: &[(&str, &str)] = &[("chart.js/dist/chart.umd.min.js", "chart.umd.min.js")];

fn dashboard() {
    let web = manifest_dir().join("web");
    let src = web.join("src");
    for watched in [
        &src,
        &web.join("package.json"),
        &web.join("package-lock.json"),
    ] {
        println!("cargo:rerun-if-changed={}", watched.display());
    }
    let modules = install_packages(&web);
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(&src)
        .expect("the dashboard's web/src folder")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            (name, path)
        })
        .collect();
    files.extend(
        VENDORED
            .iter()
            .map(|(package, name)| ((*name).to_owned(), modules.join(package))),
    );
    files.sort();
    let gz = out_dir().join("dashboard-gz");
    std::fs::create_dir_all(&gz).expect("create the gzip folder");
    let mut out = String::from(
        "/// The dashboard's files: (name, bytes, gzip-compressed bytes).\n\
         pub static DASHBOARD_FILES: &[(&str, &[u8], &[u8])] = &[\n",
    );
    for (name, path) in files {
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("reading the dashboard file {}: {e}", path.display()));
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&bytes).expect("gzip");
        let compressed = gz.join(format!("{name}.gz"));
        std::fs::write(&compressed, encoder.finish().expect("gzip")).expect("write gzip");
        let absolute = path.canonicalize().expect("a path");
        let _ = writeln!(
            out,
            "    ({name:?}, include_bytes!({:?}), include_bytes!({:?})),",
            absolute.display().to_string(),
            compressed.display().to_string()
        );
    }
    out.push_str("];\n");
    std::fs::write(out_dir().join("dashboard_files.rs"), out).expect("write dashboard_files.rs");
}

/// Installs the dashboard's npm dependencies (not its development tools) from the lock
/// file into `OUT_DIR/web`, unless that lock file is installed there already; the folder
/// holding `node_modules`.
fn install_packages(web: &Path) -> PathBuf {
    let target = out_dir().join("web");
    let lock = std::fs::read(web.join("package-lock.json")).expect("web/package-lock.json");
    let stamp = target.join("installed-lock.json");
    if std::fs::read(&stamp).ok().as_deref() == Some(&lock[..]) {
        return target.join("node_modules");
    }
    std::fs::create_dir_all(&target).expect("create OUT_DIR/web");
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(web.join(file), target.join(file)).expect("copy the npm manifests");
    }
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let status = Command::new(npm)
        .args([
            "ci",
            "--ignore-scripts",
            "--omit=dev",
            "--no-audit",
            "--no-fund",
        ])
        .current_dir(&target)
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "`npm ci` for the dashboard's packages (dmarc-server/web) failed ({status}); \
             see its output above"
        ),
        Err(e) => panic!(
            "building dmarc needs Node.js and npm for the dashboard's packages \
             (Chart.js, from dmarc-server/web/package-lock.json), and `npm` could not be \
             run: {e}"
        ),
    }
    std::fs::write(&stamp, &lock).expect("write the install stamp");
    target.join("node_modules")
}
