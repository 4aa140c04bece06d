//! Hard limits applied to untrusted input (dmarc-format.md §6.2).

use serde::{Deserialize, Serialize};

use crate::diag::{Error, ErrorKind};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// Hard limits on untrusted input. Hitting one rejects the payload with
/// [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded).
///
/// The defaults follow dmarc-format.md §6.2; every field can be raised or lowered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest input accepted as a whole (an e-mail message, an mbox file, a file).
    pub max_input_bytes: u64,
    /// Largest compressed payload (one attachment or one archive entry, compressed).
    pub max_compressed_bytes: u64,
    /// Largest decompressed XML document.
    pub max_xml_bytes: u64,
    /// Decompression ratio above which a payload is treated as a bomb.
    pub max_ratio: u64,
    /// Output size below which the ratio alarm is not applied (tiny payloads are harmless).
    pub ratio_grace_bytes: u64,
    /// Compression layers allowed inside one another (`gz` in `gz`, `gz` in `zip`).
    pub max_compression_layers: u32,
    /// Entries allowed in a zip archive.
    pub max_archive_entries: usize,
    /// XML element nesting depth.
    pub max_depth: usize,
    /// Records per report.
    pub max_records: usize,
    /// Largest believable `count` of one row (more messages than one address could send in
    /// a reporting period); a row above it is dropped with a diagnostic. Keeps sums far from
    /// overflowing 64-bit integers, in memory and in databases.
    pub max_row_count: u64,
    /// DKIM results per record.
    pub max_dkim_per_record: usize,
    /// SPF results per record.
    pub max_spf_per_record: usize,
    /// Override reasons per record.
    pub max_reasons_per_record: usize,
    /// Length of a token-like text value (domains, IPs, IDs, enumerations).
    pub max_token_bytes: usize,
    /// Length of a free-text value (`comment`, `human_result`, `error`, `extra_contact_info`).
    pub max_text_bytes: usize,
    /// Attributes per element.
    pub max_attributes: usize,
    /// Length of one attribute value.
    pub max_attribute_bytes: usize,
    /// Length of an element or attribute name.
    pub max_name_bytes: usize,
    /// Raw XML kept for extensions, per report level or per record.
    pub max_extension_bytes: usize,
    /// MIME nesting depth, counting nested `message/rfc822`.
    pub max_mime_depth: usize,
    /// MIME parts per message.
    pub max_mime_parts: usize,
    /// Messages per mbox file.
    pub max_mbox_messages: usize,
    /// Reports found in one input (all attachments, entries and messages together).
    pub max_reports_per_input: usize,
    /// How long after the time of ingestion a reporting period may end, seconds (clock
    /// skew, a period that closes at the next midnight). A later period is rejected.
    pub max_future_secs: u64,
}

impl Limits {
    /// Refuses an input of `size` bytes above [`Limits::max_input_bytes`] before it is
    /// read, with the error every front end gives for it.
    pub fn check_input_size(&self, size: u64) -> Result<(), Error> {
        if size > self.max_input_bytes {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "input size: {size} bytes exceeds the limit of {} bytes",
                    self.max_input_bytes
                ),
            ));
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 50 * MIB,
            max_compressed_bytes: 32 * MIB,
            max_xml_bytes: 128 * MIB,
            max_ratio: 1000,
            ratio_grace_bytes: MIB,
            max_compression_layers: 2,
            max_archive_entries: 4,
            max_depth: 32,
            max_records: 2_000_000,
            max_row_count: u64::from(u32::MAX),
            max_dkim_per_record: 1000,
            max_spf_per_record: 100,
            max_reasons_per_record: 32,
            max_token_bytes: KIB as usize,
            max_text_bytes: 64 * KIB as usize,
            max_attributes: 16,
            max_attribute_bytes: KIB as usize,
            max_name_bytes: 128,
            max_extension_bytes: 64 * KIB as usize,
            max_mime_depth: 5,
            max_mime_parts: 64,
            max_mbox_messages: 100_000,
            max_reports_per_input: 10_000,
            max_future_secs: 3 * 86_400,
        }
    }
}
