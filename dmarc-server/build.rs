//! Embeds the sample reports of `dmarc serve --demo` (the aggregate reports of the test
//! corpus, MIT / Apache-2.0, see dmarc-core/tests/data/corpus/LICENSES.md) and the
//! dashboard: the files of `web/src` and the distribution files of its npm dependencies,
//! installed from `web/package-lock.json` into `OUT_DIR` by `npm ci` (once per lock file);
//! and the bundled geolocation data from the same install: a country MMDB as it is, and an
//! address-to-ASN table converted from CSV to the compact form `geo/bundled.rs` reads.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    demo_reports();
    let modules = dashboard();
    geo_data(&modules);
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
const VENDORED: &[(&str, &str)] = &[
    ("chart.js/dist/chart.umd.min.js", "chart.umd.min.js"),
    // The country map: the choropleth chart type (MIT; d3-geo and topojson-client built in,
    // ISC), the world's countries at 1:50m (world-atlas, ISC; Natural Earth, public
    // domain), and ISO 3166-1 codes to match them (i18n-iso-countries, MIT).
    (
        "chartjs-chart-geo/build/index.umd.min.js",
        "chartjs-chart-geo.umd.min.js",
    ),
    ("world-atlas/countries-50m.json", "countries-50m.json"),
    ("i18n-iso-countries/codes.json", "country-codes.json"),
];

fn dashboard() -> PathBuf {
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
    modules
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
             (Chart.js and the map, from dmarc-server/web/package-lock.json), and `npm` could not be \
             run: {e}"
        ),
    }
    std::fs::write(&stamp, &lock).expect("write the install stamp");
    target.join("node_modules")
}

/// The npm packages of the bundled geolocation data (CC0 / CC BY 4.0, see README).
const COUNTRY_PACKAGE: &str = "@ip-location-db/geo-whois-asn-country-mmdb";
const ASN_PACKAGE: &str = "@ip-location-db/asn";

/// The version of an installed npm package.
fn package_version(modules: &Path, package: &str) -> String {
    let manifest = std::fs::read_to_string(modules.join(package).join("package.json"))
        .unwrap_or_else(|e| panic!("the package.json of {package}: {e}"));
    let start = manifest.find("\"version\"").expect("a version") + "\"version\"".len();
    let rest = &manifest[start..];
    let open = rest.find('"').expect("a version string") + 1;
    let close = rest[open..].find('"').expect("a version string") + open;
    rest[open..close].to_owned()
}

/// Writes `geo_data.rs`: the country MMDB, the ASN table (converted once per install) and
/// their versions.
fn geo_data(modules: &Path) {
    let country = modules
        .join(COUNTRY_PACKAGE)
        .join("geo-whois-asn-country.mmdb")
        .canonicalize()
        .expect("the bundled country database");
    let table = out_dir().join("asn.bin");
    let stamp = out_dir().join("asn.stamp");
    let version = package_version(modules, ASN_PACKAGE);
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(version.as_str()) {
        let folder = modules.join(ASN_PACKAGE);
        std::fs::write(
            &table,
            asn_table(&folder.join("asn-ipv4.csv"), &folder.join("asn-ipv6.csv")),
        )
        .expect("write asn.bin");
        std::fs::write(&stamp, &version).expect("write asn.stamp");
    }
    let out = format!(
        "/// The bundled country database (MMDB).\n\
         pub static COUNTRY_MMDB: &[u8] = include_bytes!({:?});\n\
         /// Its package version.\n\
         pub const COUNTRY_VERSION: &str = {:?};\n\
         /// The bundled address-to-ASN table (see `geo/bundled.rs`).\n\
         pub static ASN_TABLE: &[u8] = include_bytes!({:?});\n\
         /// Its package version.\n\
         pub const ASN_VERSION: &str = {:?};\n",
        country.display().to_string(),
        package_version(modules, COUNTRY_PACKAGE),
        table.display().to_string(),
        version
    );
    std::fs::write(out_dir().join("geo_data.rs"), out).expect("write geo_data.rs");
}

/// One CSV line of ip-location-db's ASN tables: `first,last,asn,"organisation"`.
fn asn_line(line: &str) -> Option<(&str, &str, u32, String)> {
    let mut fields = line.splitn(4, ',');
    let (first, last, asn) = (fields.next()?, fields.next()?, fields.next()?);
    let org = fields.next().unwrap_or("").trim_end_matches('\r');
    let org = match org.strip_prefix('"').and_then(|o| o.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => org.to_owned(),
    };
    Some((first, last, asn.parse().ok()?, org))
}

/// The compact table: `DMASN1`, then the IPv4 ranges (count, then first, last, ASN as
/// little-endian u32), the IPv6 ranges (count, then first and last as u128, ASN as u32),
/// and the organisations (count, then ASN u32, length u16, UTF-8), each list sorted.
/// Adjacent ranges of one ASN are merged.
fn asn_table(v4: &Path, v6: &Path) -> Vec<u8> {
    let mut orgs = std::collections::BTreeMap::<u32, String>::new();
    let mut read = |path: &Path| -> Vec<(u128, u128, u32)> {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let mut ranges: Vec<(u128, u128, u32)> = Vec::new();
        for line in text.lines() {
            let Some((first, last, asn, org)) = asn_line(line) else {
                continue;
            };
            let (Ok(first), Ok(last)) = (
                first.parse::<std::net::IpAddr>(),
                last.parse::<std::net::IpAddr>(),
            ) else {
                continue;
            };
            let number = |ip: std::net::IpAddr| match ip {
                std::net::IpAddr::V4(v4) => u128::from(u32::from(v4)),
                std::net::IpAddr::V6(v6) => u128::from(v6),
            };
            orgs.entry(asn).or_insert(org);
            ranges.push((number(first), number(last), asn));
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u128, u128, u32)> = Vec::with_capacity(ranges.len());
        for range in ranges {
            match merged.last_mut() {
                Some(last) if last.2 == range.2 && last.1.checked_add(1) == Some(range.0) => {
                    last.1 = range.1;
                }
                Some(last) if range.0 <= last.1 => {} // overlapping: the first wins
                _ => merged.push(range),
            }
        }
        merged
    };
    let (v4, v6) = (read(v4), read(v6));
    let count = |n: usize| u32::try_from(n).expect("a count").to_le_bytes();
    let mut out = b"DMASN1".to_vec();
    out.extend(count(v4.len()));
    for (first, last, asn) in &v4 {
        for v in [*first as u32, *last as u32, *asn] {
            out.extend(v.to_le_bytes());
        }
    }
    out.extend(count(v6.len()));
    for (first, last, asn) in &v6 {
        out.extend(first.to_le_bytes());
        out.extend(last.to_le_bytes());
        out.extend(asn.to_le_bytes());
    }
    out.extend(count(orgs.len()));
    for (asn, org) in &orgs {
        let org = &org.as_bytes()[..org.floor_char_boundary(usize::from(u16::MAX))];
        out.extend(asn.to_le_bytes());
        out.extend(u16::try_from(org.len()).expect("a length").to_le_bytes());
        out.extend(org);
    }
    out
}
