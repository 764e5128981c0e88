//! Reads: from the shard's batch cache when the data is recent, else from
//! the segment through its offset index; and lookups by timestamp.

use bytes::Bytes;

use super::Log;
use crate::error::{Result, StorageError};
use crate::format::index::{lookup_position, lookup_time};
use crate::format::segment::{scan, ScanStop};
use crate::limits;

/// Batches returned by [`Log::read`] and the log's bounds at that moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadResult {
    /// Whole batches, contiguous in offset order; each `Bytes` may hold
    /// several batches back to back. Empty when nothing is readable yet.
    pub batches: Vec<Bytes>,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    /// True when the batches came from the cache without disk I/O.
    pub from_cache: bool,
}

impl ReadResult {
    pub fn total_bytes(&self) -> usize {
        self.batches.iter().map(Bytes::len).sum()
    }
}

impl Log {
    /// Whole batches starting with the one that holds `offset`, up to
    /// `max_bytes` in total but always at least one batch if any is readable
    /// (below the high watermark). Reading at or past the high watermark
    /// (and at most the log end) returns no batches; outside
    /// [log start, log end] is `OffsetOutOfRange`. Batches read from disk
    /// have their CRC verified.
    pub async fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadResult> {
        let inner = &self.inner;
        let (hwm, start, file, seg_base, seg_end, position) = {
            let st = inner.state.borrow();
            let hwm = st.high_watermark(inner.config.fsync);
            let mut result = ReadResult {
                batches: Vec::new(),
                high_watermark: hwm,
                log_start_offset: st.log_start_offset,
                from_cache: false,
            };
            if offset < st.log_start_offset || offset > st.log_end_offset {
                return Err(StorageError::OffsetOutOfRange {
                    offset,
                    log_start_offset: st.log_start_offset,
                    log_end_offset: st.log_end_offset,
                });
            }
            if offset >= hwm {
                return Ok(result);
            }
            if let Some(batches) = inner
                .shard
                .cache()
                .read(&inner.cache, offset, hwm, max_bytes)
            {
                result.batches = batches;
                result.from_cache = true;
                return Ok(result);
            }
            let i = st.segments.partition_point(|s| s.base_offset <= offset) - 1;
            let seg = &st.segments[i];
            let mark = st.ack_mark(inner.config.fsync);
            let seg_end = if seg.base_offset == mark.segment_base {
                mark.bytes
            } else {
                assert!(seg.base_offset < mark.segment_base);
                seg.size_bytes
            };
            let rel = u32::try_from(offset - seg.base_offset).expect("relative offset");
            let position = lookup_position(&seg.offset_index, rel) as u64;
            (
                hwm,
                st.log_start_offset,
                seg.file.clone(),
                seg.base_offset,
                seg_end,
                position,
            )
        };
        let corrupt = |position: u64, reason: String| StorageError::CorruptOnDisk {
            segment_base_offset: seg_base,
            position,
            reason,
        };
        // Read from the indexed position: skip batches before `offset`, then
        // take whole batches within the budget (the first one whatever its
        // size). At most a few rounds: each either finishes or learns the
        // exact size of the batch it must read whole.
        let mut pos = position;
        let mut want = max_bytes
            .saturating_add(inner.config.index_interval_bytes as usize)
            .clamp(64 * 1024, limits::BATCH_BYTES_MAX + limits::SCAN_READ_BYTES);
        loop {
            if pos >= seg_end {
                return Err(corrupt(
                    pos,
                    format!("offset {offset} not found in segment"),
                ));
            }
            let len = (want as u64).min(seg_end - pos) as usize;
            let buf = file
                .read_at(pos, len)
                .await
                .map_err(|e| StorageError::io("segment read", e))?;
            if buf.len() < len {
                return Err(corrupt(
                    pos,
                    "segment shorter than its recorded size".into(),
                ));
            }
            let mut first: Option<usize> = None;
            let mut end = 0;
            let mut taken = 0usize;
            let mut count = 0usize;
            let mut skip_to = 0usize;
            let (_, stop) = scan(&buf, None, true, |span| {
                if span.last_offset < offset {
                    skip_to = span.position + span.bytes;
                    return;
                }
                if span.last_offset >= hwm || count >= limits::READ_BATCHES_MAX {
                    return;
                }
                if first.is_some() && (taken + span.bytes > max_bytes || end != span.position) {
                    return;
                }
                first.get_or_insert(span.position);
                end = span.position + span.bytes;
                taken += span.bytes;
                count += 1;
            });
            if let Some(f) = first {
                return Ok(ReadResult {
                    batches: vec![buf.slice(f..end)],
                    high_watermark: hwm,
                    log_start_offset: start,
                    from_cache: false,
                });
            }
            match stop {
                ScanStop::Incomplete { needed } => {
                    pos += skip_to as u64;
                    want = needed.unwrap_or(0).max(want);
                }
                ScanStop::End if skip_to > 0 => pos += skip_to as u64,
                ScanStop::Invalid(reason) => return Err(corrupt(pos + skip_to as u64, reason)),
                other => {
                    return Err(corrupt(
                        pos + skip_to as u64,
                        format!("no batch for offset {offset}: {other:?}"),
                    ))
                }
            }
        }
    }

    /// The first batch whose max timestamp is at or after `timestamp`:
    /// its base offset and max timestamp (Kafka's ListOffsets at batch
    /// granularity). `None` if no readable batch is that recent.
    pub async fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>> {
        let start = {
            let st = self.inner.state.borrow();
            let hwm = st.high_watermark(self.inner.config.fsync);
            let Some(seg) = st
                .segments
                .iter()
                .find(|s| s.max_timestamp >= timestamp && s.base_offset < hwm)
            else {
                return Ok(None);
            };
            seg.base_offset + lookup_time(&seg.time_index, timestamp) as i64
        };
        let mut offset = start.max(self.log_start_offset());
        loop {
            let r = self.read(offset, limits::SCAN_READ_BYTES).await?;
            if r.batches.is_empty() {
                return Ok(None);
            }
            for bytes in &r.batches {
                let mut found = None;
                scan(bytes, None, false, |span| {
                    if found.is_none() && span.max_timestamp >= timestamp {
                        found = Some((span.base_offset, span.max_timestamp));
                    }
                });
                if found.is_some() {
                    return Ok(found);
                }
            }
            let last = r.batches.last().expect("non-empty");
            let mut next = offset;
            scan(last, None, false, |span| next = span.last_offset + 1);
            offset = next;
        }
    }
}
