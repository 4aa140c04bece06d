//! Reading report files from disk (feature `files`), for front ends that take paths: the
//! `dmarc` command line and the Python module. The parser itself never touches the
//! filesystem; this module only lists and reads files under the input size limit.

use std::path::{Path, PathBuf};
use std::{fs, io};

use crate::{Error, ErrorKind, Limits};

/// A path that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no such file or folder: {}", .0.display())]
pub struct MissingPath(pub PathBuf);

/// Expands files and folders (recursively, in name order) into the list of files to read.
/// Hidden files inside folders are skipped; paths given explicitly are always read.
pub fn expand<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<PathBuf>, MissingPath> {
    let mut files = Vec::new();
    for path in paths {
        let path = path.as_ref();
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
            files.push(path.to_path_buf());
        } else {
            return Err(MissingPath(path.to_path_buf()));
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
pub fn read(file: &Path, limits: &Limits) -> Result<Vec<u8>, Error> {
    let io_failure = |e: io::Error| Error::new(ErrorKind::Io, format!("cannot read the file: {e}"));
    let size = fs::metadata(file).map_err(io_failure)?.len();
    limits.check_input_size(size)?;
    fs::read(file).map_err(io_failure)
}

/// How an input and the part within it are named in messages: `file > part`.
pub fn source_name(input: &str, part: Option<&str>) -> String {
    match part {
        Some(part) => format!("{input} > {part}"),
        None => input.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_expand_in_name_order_without_hidden_files() {
        let dir = std::env::temp_dir().join(format!("dmarc-files-{}", std::process::id()));
        fs::create_dir_all(dir.join("sub")).unwrap();
        for name in ["b.xml", "a.xml", ".hidden", "sub/c.xml"] {
            fs::write(dir.join(name), b"<feedback/>").unwrap();
        }
        let files = expand(&[&dir]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.strip_prefix(&dir).unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.xml", "b.xml", "sub/c.xml"]);
        assert_eq!(
            expand(&[dir.join("missing")]),
            Err(MissingPath(dir.join("missing")))
        );
        let small = Limits {
            max_input_bytes: 4,
            ..Limits::default()
        };
        let err = read(&dir.join("a.xml"), &small).unwrap_err();
        assert_eq!(err.kind, ErrorKind::LimitExceeded);
        assert_eq!(
            read(&dir.join("a.xml"), &Limits::default()).unwrap(),
            b"<feedback/>"
        );
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            source_name("m.eml", Some("attachment 'r.zip'")),
            "m.eml > attachment 'r.zip'"
        );
        assert_eq!(source_name("r.xml", None), "r.xml");
    }
}
