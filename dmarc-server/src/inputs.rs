//! Expanding command-line paths into input files.

use std::path::{Path, PathBuf};
use std::{fs, io};

use dmarc_core::{Error, ErrorKind, Limits};

/// A path given on the command line that does not exist.
#[derive(Debug)]
pub(crate) struct MissingPath(pub(crate) PathBuf);

/// Expands files and folders (recursively, in name order) into the list of files to read.
/// Hidden files inside folders are skipped; paths given explicitly are always read.
pub(crate) fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, MissingPath> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let walk = walkdir::WalkDir::new(path)
                .follow_links(true)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| e.depth() == 0 || !is_hidden(e.path()));
            for entry in walk.flatten() {
                if entry.file_type().is_file() {
                    files.push(entry.into_path());
                }
            }
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(MissingPath(path.clone()));
        }
    }
    Ok(files)
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// Reads one input file, refusing files above the input size limit before reading them.
pub(crate) fn read(file: &Path, limits: &Limits) -> Result<Vec<u8>, Error> {
    let io_failure = |e: io::Error| Error::new(ErrorKind::Io, format!("cannot read the file: {e}"));
    let size = fs::metadata(file).map_err(io_failure)?.len();
    if size > limits.max_input_bytes {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "input size: {size} bytes exceeds the limit of {} bytes",
                limits.max_input_bytes
            ),
        ));
    }
    fs::read(file).map_err(io_failure)
}

/// How an input and the part within it are named in output: `file > part`.
pub(crate) fn source_name(file: &str, part: Option<&str>) -> String {
    match part {
        Some(part) => format!("{file} > {part}"),
        None => file.to_owned(),
    }
}
