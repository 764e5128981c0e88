//! Per-log configuration.

use crate::error::{Result, StorageError};
use crate::limits;

/// When appended data is made durable with fdatasync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Every write is followed by fdatasync before its offsets count as
    /// durable (group commit: concurrent appends share one sync).
    Always,
    /// Writes are acknowledged once on the device queue; fdatasync runs when
    /// `ms` have passed or `bytes` were written since the last one, whichever
    /// comes first. A power loss may lose acknowledged data.
    Interval { ms: u64, bytes: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A segment rolls once appending would take it past this size.
    pub segment_bytes_max: u64,
    /// A non-empty segment rolls on the first append after it is this old
    /// (wall clock since the segment was created or reopened).
    pub segment_age_ms: u64,
    /// Bytes of batches between two entries of the offset and time indexes.
    pub index_interval_bytes: u32,
    /// Durable bytes of the active segment between two index checkpoints:
    /// the most recovery scans after a crash (plus what was written since).
    pub index_checkpoint_bytes: u64,
    pub fsync: FsyncPolicy,
    /// Retention by total size of the log; -1 keeps everything.
    pub retention_bytes: i64,
    /// Retention by age of a segment's newest timestamp; -1 keeps everything.
    pub retention_ms: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes_max: 128 << 20,
            segment_age_ms: 7 * 24 * 3600 * 1000,
            index_interval_bytes: 4096,
            index_checkpoint_bytes: limits::INDEX_CHECKPOINT_BYTES,
            fsync: FsyncPolicy::Always,
            retention_bytes: -1,
            retention_ms: 7 * 24 * 3600 * 1000,
        }
    }
}

impl LogConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(StorageError::InvalidConfig(m));
        if self.segment_bytes_max < limits::SEGMENT_BYTES_MIN
            || self.segment_bytes_max > limits::SEGMENT_BYTES_LIMIT
        {
            return bad(format!(
                "segment_bytes_max {} outside [{}, {}]",
                self.segment_bytes_max,
                limits::SEGMENT_BYTES_MIN,
                limits::SEGMENT_BYTES_LIMIT
            ));
        }
        if (self.index_interval_bytes as usize) < limits::PAGE_BYTES {
            return bad(format!(
                "index_interval_bytes {} below {}",
                self.index_interval_bytes,
                limits::PAGE_BYTES
            ));
        }
        if self.index_checkpoint_bytes < limits::PAGE_BYTES as u64 {
            return bad(format!(
                "index_checkpoint_bytes {} below {}",
                self.index_checkpoint_bytes,
                limits::PAGE_BYTES
            ));
        }
        if self.segment_age_ms == 0 {
            return bad("segment_age_ms must be positive".into());
        }
        if let FsyncPolicy::Interval { ms, bytes } = self.fsync {
            if ms == 0 || bytes == 0 {
                return bad("fsync interval ms and bytes must be positive".into());
            }
        }
        if self.retention_bytes < -1 || self.retention_ms < -1 {
            return bad("retention values must be -1 or non-negative".into());
        }
        Ok(())
    }
}

/// Shard-wide storage settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardStorageConfig {
    /// Budget of the recent-batch cache shared by all logs of the shard.
    pub cache_bytes_max: usize,
}

impl Default for ShardStorageConfig {
    fn default() -> Self {
        Self {
            cache_bytes_max: limits::CACHE_BYTES_DEFAULT,
        }
    }
}
