//! Segment files: a plain concatenation of Kafka record batches (the format
//! of `storage::batch`), named by the base offset of their first batch.
//! Bytes after the last batch up to the end of the last 4 KiB page are zero.

use crate::batch::{self, BatchHeader, HEADER_BYTES, LOG_OVERHEAD_BYTES};
use crate::limits;

pub const SEGMENT_SUFFIX: &str = ".log";
pub const OFFSET_INDEX_SUFFIX: &str = ".index";
pub const TIME_INDEX_SUFFIX: &str = ".timeindex";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Segment,
    OffsetIndex,
    TimeIndex,
}

/// Base offsets are zero-padded to 20 digits so names sort like offsets.
pub fn file_name(base_offset: i64, kind: FileKind) -> String {
    assert!(base_offset >= 0, "negative base offset {base_offset}");
    let suffix = match kind {
        FileKind::Segment => SEGMENT_SUFFIX,
        FileKind::OffsetIndex => OFFSET_INDEX_SUFFIX,
        FileKind::TimeIndex => TIME_INDEX_SUFFIX,
    };
    format!("{base_offset:020}{suffix}")
}

/// Parses a name made by [`file_name`]; anything else is `None`.
pub fn parse_file_name(name: &str) -> Option<(i64, FileKind)> {
    let (digits, kind) = if let Some(d) = name.strip_suffix(SEGMENT_SUFFIX) {
        (d, FileKind::Segment)
    } else if let Some(d) = name.strip_suffix(OFFSET_INDEX_SUFFIX) {
        (d, FileKind::OffsetIndex)
    } else if let Some(d) = name.strip_suffix(TIME_INDEX_SUFFIX) {
        (d, FileKind::TimeIndex)
    } else {
        return None;
    };
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let base: i64 = digits.parse().ok()?;
    Some((base, kind))
}

/// One batch found by [`scan`]; `position` is relative to the scanned slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSpan {
    pub position: usize,
    pub bytes: usize,
    pub base_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
}

/// Why [`scan`] stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanStop {
    /// Consumed the slice exactly.
    End,
    /// A batch header starts here but the batch continues past the slice
    /// (or fewer than 12 bytes remain); `needed` is its total size if known.
    Incomplete { needed: Option<usize> },
    /// Zero length field: padding after the last batch.
    Zeros,
    /// Not a valid batch (bad header, CRC, offset not contiguous).
    Invalid(String),
}

/// Walks whole batches at the start of `buf`, checking every header and,
/// if `verify_crc`, every CRC. `expected_base` (if any) must be the base
/// offset of the first batch; each next batch must follow the previous one.
/// Returns the bytes consumed by valid batches and why it stopped.
pub fn scan(
    buf: &[u8],
    mut expected_base: Option<i64>,
    verify_crc: bool,
    mut visit: impl FnMut(BatchSpan),
) -> (usize, ScanStop) {
    let mut pos = 0;
    loop {
        let rest = &buf[pos..];
        if rest.is_empty() {
            return (pos, ScanStop::End);
        }
        if rest.len() < LOG_OVERHEAD_BYTES {
            return (pos, ScanStop::Incomplete { needed: None });
        }
        if rest[8..12] == [0, 0, 0, 0] {
            return (pos, ScanStop::Zeros);
        }
        let header = match BatchHeader::parse(rest) {
            Ok(h) => h,
            Err(batch::BatchError::Truncated { .. }) => {
                return (pos, ScanStop::Incomplete { needed: None })
            }
            Err(e) => return (pos, ScanStop::Invalid(e.to_string())),
        };
        let total = header.total_bytes();
        if total > limits::BATCH_BYTES_MAX {
            return (
                pos,
                ScanStop::Invalid(format!("batch of {total} bytes exceeds the limit")),
            );
        }
        if rest.len() < total {
            return (
                pos,
                ScanStop::Incomplete {
                    needed: Some(total),
                },
            );
        }
        if let Some(expected) = expected_base {
            if header.base_offset != expected {
                return (
                    pos,
                    ScanStop::Invalid(format!(
                        "base offset {} where {expected} was expected",
                        header.base_offset
                    )),
                );
            }
        }
        if verify_crc {
            if let Err(e) = batch::verify_crc(&rest[..total]) {
                return (pos, ScanStop::Invalid(e.to_string()));
            }
        }
        debug_assert!(total >= HEADER_BYTES);
        visit(BatchSpan {
            position: pos,
            bytes: total,
            base_offset: header.base_offset,
            last_offset: header.last_offset(),
            max_timestamp: header.max_timestamp,
        });
        expected_base = Some(header.last_offset() + 1);
        pos += total;
    }
}
