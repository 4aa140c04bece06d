//! Expanding command-line paths into input files, and naming them in output.

pub(crate) use dmarc_core::files::{MissingPath, expand, read, source_name};
