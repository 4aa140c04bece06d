//! Expanding command-line paths into input files.

pub(crate) use dmarc_core::files::{MissingPath, expand, read};

/// How an input and the part within it are named in output: `file > part`.
pub(crate) fn source_name(file: &str, part: Option<&str>) -> String {
    match part {
        Some(part) => format!("{file} > {part}"),
        None => file.to_owned(),
    }
}
