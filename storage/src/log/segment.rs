//! In-memory state of one segment: its file, sizes and indexes.

use std::rc::Rc;
use std::time::Instant;

use crate::format::index::{IndexMeta, OffsetEntry, TimeEntry};
use crate::io::File;

pub(crate) struct Segment {
    pub base_offset: i64,
    pub file: Rc<dyn File>,
    /// Logical bytes, including batches still buffered for writing.
    pub size_bytes: u64,
    /// Offset after the last batch, buffered ones included.
    pub next_offset: i64,
    pub offset_index: Vec<OffsetEntry>,
    pub time_index: Vec<TimeEntry>,
    pub bytes_since_offset_entry: u64,
    pub bytes_since_time_entry: u64,
    pub max_timestamp: i64,
    pub max_timestamp_offset: i64,
    pub created: Instant,
    /// No more appends go to a sealed segment. Once it is not the last
    /// segment, it is also complete, synced, and its indexes are on disk.
    pub sealed: bool,
}

impl Segment {
    pub fn new(base_offset: i64, file: Rc<dyn File>) -> Self {
        Self {
            base_offset,
            file,
            size_bytes: 0,
            next_offset: base_offset,
            offset_index: Vec::new(),
            time_index: Vec::new(),
            bytes_since_offset_entry: 0,
            bytes_since_time_entry: 0,
            max_timestamp: -1,
            max_timestamp_offset: -1,
            created: Instant::now(),
            sealed: false,
        }
    }

    /// Records a batch appended at the end of the segment, adding index
    /// entries every `interval` bytes.
    pub fn push_batch(
        &mut self,
        base: i64,
        last: i64,
        max_timestamp: i64,
        bytes: u64,
        interval: u64,
    ) {
        assert_eq!(base, self.next_offset, "batches must be contiguous");
        let relative = u32::try_from(base - self.base_offset).expect("relative offset fits u32");
        let position = u32::try_from(self.size_bytes).expect("segment position fits u32");
        if self.offset_index.is_empty() || self.bytes_since_offset_entry >= interval {
            self.offset_index.push(OffsetEntry {
                relative_offset: relative,
                position,
            });
            self.bytes_since_offset_entry = 0;
        }
        if max_timestamp > self.max_timestamp {
            if self.time_index.is_empty() || self.bytes_since_time_entry >= interval {
                self.time_index.push(TimeEntry {
                    timestamp: max_timestamp,
                    relative_offset: relative,
                });
                self.bytes_since_time_entry = 0;
            }
            self.max_timestamp = max_timestamp;
            self.max_timestamp_offset = base;
        }
        self.bytes_since_offset_entry += bytes;
        self.bytes_since_time_entry += bytes;
        self.size_bytes += bytes;
        self.next_offset = last + 1;
    }

    /// Forgets everything at or after `position` / `offset` (a rollback or a
    /// truncation), restoring the max timestamp the caller computed.
    pub fn cut(&mut self, position: u64, offset: i64, max_timestamp: (i64, i64)) {
        assert!(position <= self.size_bytes && offset <= self.next_offset);
        let rel = (offset - self.base_offset) as u64;
        self.offset_index.retain(|e| (e.position as u64) < position);
        self.time_index.retain(|e| (e.relative_offset as u64) < rel);
        self.size_bytes = position;
        self.next_offset = offset;
        (self.max_timestamp, self.max_timestamp_offset) = max_timestamp;
        // Conservative: the next batch gets fresh entries.
        self.bytes_since_offset_entry = u64::MAX / 2;
        self.bytes_since_time_entry = u64::MAX / 2;
    }

    /// The index state describing the segment's first `covered_bytes`, which
    /// end at `next_offset` with the given max timestamp.
    pub fn index_snapshot(
        &self,
        covered_bytes: u64,
        next_offset: i64,
        max_timestamp: (i64, i64),
    ) -> (IndexMeta, Vec<OffsetEntry>, Vec<TimeEntry>) {
        let rel_end = (next_offset - self.base_offset) as u64;
        let offsets: Vec<OffsetEntry> = self
            .offset_index
            .iter()
            .copied()
            .filter(|e| (e.position as u64) < covered_bytes)
            .collect();
        let mut times: Vec<TimeEntry> = self
            .time_index
            .iter()
            .copied()
            .filter(|e| (e.relative_offset as u64) < rel_end)
            .collect();
        // The last time entry always carries the segment's max timestamp, so
        // a reopened segment knows it without a scan.
        let (max_ts, max_ts_offset) = max_timestamp;
        if max_ts_offset >= 0 && times.last().is_none_or(|t| t.timestamp < max_ts) {
            let rel = (max_ts_offset - self.base_offset) as u32;
            if times.last().is_none_or(|t| t.relative_offset < rel) {
                times.push(TimeEntry {
                    timestamp: max_ts,
                    relative_offset: rel,
                });
            }
        }
        let meta = IndexMeta {
            base_offset: self.base_offset,
            covered_bytes,
            next_offset,
            max_timestamp: max_ts,
            max_timestamp_offset: max_ts_offset,
        };
        (meta, offsets, times)
    }
}
