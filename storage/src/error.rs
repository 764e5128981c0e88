//! Errors of the storage crate.

use std::io;
use std::sync::Arc;

use crate::batch::BatchError;

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// What can go wrong in a partition log. Cloneable because one failed flush
/// answers every append waiting on it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A batch given to `append` is malformed or fails its CRC; nothing of
    /// that append was written. `BatchError::CrcMismatch` is the CRC case.
    #[error("invalid record batch: {0}")]
    Corrupt(#[from] BatchError),
    /// A batch given to `append` exceeds `limits::BATCH_BYTES_MAX`.
    #[error("record batch of {bytes} bytes exceeds the limit of {max}")]
    BatchTooLarge { bytes: usize, max: usize },
    /// `append` was given no batch at all.
    #[error("append of zero batches")]
    EmptyAppend,
    /// Data read back from disk fails verification (flipped bits, a damaged
    /// sealed segment). The log is not changed; the caller decides.
    #[error("corrupt data in segment {segment_base_offset} at position {position}: {reason}")]
    CorruptOnDisk {
        segment_base_offset: i64,
        position: u64,
        reason: String,
    },
    /// The device is full. The appends that were not yet durable are
    /// discarded; the log stays readable and accepts appends again once
    /// space is freed.
    #[error("disk full")]
    DiskFull,
    /// An I/O error other than a full disk.
    #[error("I/O error during {op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: Arc<io::Error>,
    },
    /// A write or sync failed earlier; the log refuses further appends
    /// because the kernel may have dropped the unsynced data (see DESIGN.md).
    /// Reopening the log runs recovery.
    #[error("log failed earlier and must be reopened: {0}")]
    Failed(Arc<StorageError>),
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    /// The appended batches were removed by `truncate` to this offset
    /// before the waiter saw them acknowledged.
    #[error("appended batches were truncated away at offset {0}")]
    Truncated(i64),
    /// `truncate` to an offset that is not the base offset of a batch.
    #[error("offset {0} is not a batch boundary")]
    NotBatchBoundary(i64),
    #[error("invalid log configuration: {0}")]
    InvalidConfig(String),
    #[error("log is closed")]
    Closed,
}

impl StorageError {
    /// Classifies an I/O error: a full disk gets its own variant.
    pub fn io(op: &'static str, err: io::Error) -> Self {
        if is_disk_full(&err) {
            StorageError::DiskFull
        } else {
            StorageError::Io {
                op,
                source: Arc::new(err),
            }
        }
    }

    pub fn is_crc_mismatch(&self) -> bool {
        matches!(self, StorageError::Corrupt(BatchError::CrcMismatch { .. }))
    }
}

pub(crate) fn is_disk_full(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ENOSPC)
        || err.raw_os_error() == Some(libc::EDQUOT)
        || err.kind() == io::ErrorKind::StorageFull
}
