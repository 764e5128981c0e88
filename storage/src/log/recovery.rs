//! Opening a log: find the segments, trust sealed segments whose indexes
//! check out, scan the rest from their last index checkpoint, cut a torn
//! tail, and rebuild what is missing. See DESIGN.md, "Recovery".

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::time::Instant;

use super::segment::Segment;
use super::{Mark, State, Tail};
use crate::config::LogConfig;
use crate::error::{Result, StorageError};
use crate::format::index::{self, IndexMeta, OffsetEntry, TimeEntry};
use crate::format::segment::{file_name, parse_file_name, scan, FileKind, ScanStop};
use crate::io::{align_down, align_up, Directory, File};
use crate::limits;

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub segments: usize,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    /// Bytes of segment data read and verified (0 after a clean shutdown).
    pub scanned_bytes: u64,
    /// Segments whose index files were missing or invalid and were rebuilt.
    pub rebuilt_indexes: Vec<i64>,
    /// Set when non-padding bytes after the last valid batch were cut.
    pub torn_tail: Option<TornTail>,
    /// Index files without a segment, removed.
    pub removed_files: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub segment_base_offset: i64,
    pub position: u64,
    pub bytes_cut: u64,
    pub reason: String,
}

pub(crate) async fn recover(
    dir: &dyn Directory,
    config: &LogConfig,
) -> Result<(State, RecoveryReport)> {
    let mut report = RecoveryReport::default();
    let names = dir
        .list()
        .await
        .map_err(|e| StorageError::io("list log directory", e))?;
    let mut bases: BTreeMap<i64, bool> = BTreeMap::new();
    let mut index_only: Vec<(i64, String)> = Vec::new();
    for name in &names {
        match parse_file_name(name) {
            Some((base, FileKind::Segment)) => {
                bases.insert(base, true);
            }
            Some((base, _)) => index_only.push((base, name.clone())),
            None => {}
        }
    }
    for (base, name) in index_only {
        if !bases.contains_key(&base) {
            dir.remove_file(&name)
                .await
                .map_err(|e| StorageError::io("remove orphan index", e))?;
            report.removed_files.push(name);
        }
    }
    if bases.is_empty() {
        dir.open_file(&file_name(0, FileKind::Segment), true)
            .await
            .map_err(|e| StorageError::io("create segment", e))?;
        dir.sync()
            .await
            .map_err(|e| StorageError::io("directory sync", e))?;
        bases.insert(0, true);
    }
    let count = bases.len();
    let mut segments: Vec<Segment> = Vec::with_capacity(count);
    for (i, &base) in bases.keys().enumerate() {
        let is_last = i + 1 == count;
        let seg = recover_segment(dir, config, base, is_last, &mut report).await?;
        if let Some(prev) = segments.last() {
            if prev.next_offset != base {
                return Err(StorageError::CorruptOnDisk {
                    segment_base_offset: base,
                    position: 0,
                    reason: format!(
                        "segment starts at {base} but the previous one ends at {}",
                        prev.next_offset
                    ),
                });
            }
        }
        segments.push(seg);
    }
    let active = segments.last().expect("at least one segment");
    // Whatever the crash left may still sit in the device's volatile cache.
    active
        .file
        .sync()
        .await
        .map_err(|e| StorageError::io("segment sync", e))?;
    let size = active.size_bytes;
    let page = align_down(size);
    let tail_bytes = if size > page {
        let b = active
            .file
            .read_at(page, (size - page) as usize)
            .await
            .map_err(|e| StorageError::io("read tail page", e))?;
        assert_eq!(
            b.len() as u64,
            size - page,
            "tail page shorter than the segment"
        );
        b.to_vec()
    } else {
        Vec::new()
    };
    let tail = Tail {
        segment_base: active.base_offset,
        file_pos: page,
        bytes: tail_bytes,
    };
    let mark = Mark {
        segment_base: active.base_offset,
        bytes: size,
        end_offset: active.next_offset,
        max_timestamp: (active.max_timestamp, active.max_timestamp_offset),
    };
    report.segments = segments.len();
    report.log_start_offset = segments[0].base_offset;
    report.log_end_offset = active.next_offset;
    let state = State {
        log_start_offset: segments[0].base_offset,
        log_end_offset: active.next_offset,
        written: mark,
        durable: mark,
        open_chunk: None,
        chunk_capacity: limits::WRITE_CHUNK_BYTES_MIN,
        in_flight_bytes: 0,
        tail: tail.clone(),
        written_tail: tail,
        unsynced_bytes: 0,
        last_sync: Instant::now(),
        checkpoint_bytes: size,
        allocated_bytes: 0,
        failed: None,
        disk_full: false,
        closing: false,
        closed: false,
        exclusive: false,
        sync_requested_to: -1,
        generation: 0,
        rollbacks: VecDeque::new(),
        segments,
    };
    Ok((state, report))
}

async fn recover_segment(
    dir: &dyn Directory,
    config: &LogConfig,
    base: i64,
    is_last: bool,
    report: &mut RecoveryReport,
) -> Result<Segment> {
    let io = |op| move |e| StorageError::io(op, e);
    let file = dir
        .open_file(&file_name(base, FileKind::Segment), false)
        .await
        .map_err(io("open segment"))?;
    let file_len = file.size().await.map_err(io("segment size"))?;
    let mut seg = Segment::new(base, file.clone());
    let loaded = load_indexes(dir, base)
        .await
        .filter(|(meta, _, _)| meta.covered_bytes <= file_len);
    let start = match &loaded {
        Some((meta, offsets, times)) => {
            seg.offset_index = offsets.clone();
            seg.time_index = times.clone();
            seg.size_bytes = meta.covered_bytes;
            seg.next_offset = meta.next_offset;
            seg.max_timestamp = meta.max_timestamp;
            seg.max_timestamp_offset = meta.max_timestamp_offset;
            // Fresh entries for whatever the scan finds next.
            seg.bytes_since_offset_entry = u64::MAX / 2;
            seg.bytes_since_time_entry = u64::MAX / 2;
            meta.covered_bytes
        }
        None => 0,
    };
    let trusted = start > 0 && start == file_len && !is_last;
    if !trusted {
        let stop = scan_into(&mut seg, config, start, file_len, report).await?;
        if let Some((position, reason)) = stop {
            if !is_last {
                return Err(StorageError::CorruptOnDisk {
                    segment_base_offset: base,
                    position,
                    reason,
                });
            }
            report.torn_tail = Some(TornTail {
                segment_base_offset: base,
                position,
                bytes_cut: file_len - position,
                reason,
            });
        }
        if seg.size_bytes != file_len {
            file.set_len(seg.size_bytes)
                .await
                .map_err(io("cut segment tail"))?;
            file.sync().await.map_err(io("segment sync"))?;
        }
        if start == 0 {
            report.rebuilt_indexes.push(base);
        }
        // Rewrite the indexes unless they already describe exactly this:
        // a stale index must never outlive the bytes it describes.
        if start != seg.size_bytes || loaded.is_none() {
            let (meta, offsets, times) = seg.index_snapshot(
                seg.size_bytes,
                seg.next_offset,
                (seg.max_timestamp, seg.max_timestamp_offset),
            );
            if let Err(e) = store_indexes(dir, &meta, &offsets, &times).await {
                // Not fatal (a full disk): without index files the next
                // open scans this segment again.
                tracing::warn!(base, error = %e, "cannot store rebuilt indexes");
                remove_indexes(dir, base).await?;
            }
        }
    }
    seg.sealed = !is_last;
    Ok(seg)
}

/// Scans the segment from `start` (a batch boundary) to `file_len`, adding
/// every valid batch to `seg`. Returns where and why it stopped early, if
/// anything but zero padding follows the last valid batch.
async fn scan_into(
    seg: &mut Segment,
    config: &LogConfig,
    start: u64,
    file_len: u64,
    report: &mut RecoveryReport,
) -> Result<Option<(u64, String)>> {
    let interval = config.index_interval_bytes as u64;
    let mut pos = start;
    let mut want = limits::SCAN_READ_BYTES;
    loop {
        if pos >= file_len {
            return Ok(None);
        }
        let len = (want as u64).min(file_len - pos) as usize;
        let buf = seg
            .file
            .read_at(pos, len)
            .await
            .map_err(|e| StorageError::io("segment scan", e))?;
        report.scanned_bytes += buf.len() as u64;
        let at_eof = pos + buf.len() as u64 >= file_len;
        let mut found = Vec::new();
        let (used, stop) = scan(&buf, Some(seg.next_offset), true, |span| found.push(span));
        for span in found {
            seg.push_batch(
                span.base_offset,
                span.last_offset,
                span.max_timestamp,
                span.bytes as u64,
                interval,
            );
        }
        pos += used as u64;
        debug_assert_eq!(pos, seg.size_bytes);
        match stop {
            ScanStop::End => {}
            ScanStop::Incomplete { needed } if !at_eof => {
                // The batch straddles the read: read again from its start,
                // and read several such batches at a time from now on, so
                // that few bytes are read twice.
                want = want
                    .max(needed.unwrap_or(0).saturating_mul(4))
                    .min(limits::SCAN_READ_BYTES_MAX)
                    .max(needed.unwrap_or(0));
            }
            ScanStop::Incomplete { .. } => {
                return Ok(Some((pos, "batch cut short by the end of the file".into())))
            }
            ScanStop::Zeros => {
                let padding = at_eof
                    && file_len - pos < limits::PAGE_BYTES as u64
                    && buf[used..].iter().all(|&b| b == 0);
                if padding {
                    return Ok(None);
                }
                return Ok(Some((pos, "zeroed bytes inside the segment".into())));
            }
            ScanStop::Invalid(reason) => return Ok(Some((pos, reason))),
        }
    }
}

async fn load_indexes(
    dir: &dyn Directory,
    base: i64,
) -> Option<(IndexMeta, Vec<OffsetEntry>, Vec<TimeEntry>)> {
    let read_all = |name: String| async move {
        let file = dir.open_file(&name, false).await.ok()?;
        let len = file.size().await.ok()?;
        if len as usize
            > index::HEADER_BYTES
                + limits::INDEX_ENTRIES_MAX * index::TIME_ENTRY_BYTES
                + limits::PAGE_BYTES
        {
            return None;
        }
        file.read_at(0, len as usize).await.ok()
    };
    let obytes = read_all(file_name(base, FileKind::OffsetIndex)).await?;
    let tbytes = read_all(file_name(base, FileKind::TimeIndex)).await?;
    let (ometa, offsets) = index::decode_offset_index(&obytes)
        .map_err(|e| tracing::warn!(base, error = %e, "offset index invalid, rebuilding"))
        .ok()?;
    let (tmeta, times) = index::decode_time_index(&tbytes)
        .map_err(|e| tracing::warn!(base, error = %e, "time index invalid, rebuilding"))
        .ok()?;
    if ometa != tmeta || ometa.base_offset != base || ometa.next_offset < base {
        tracing::warn!(base, "index files disagree, rebuilding");
        return None;
    }
    Some((ometa, offsets, times))
}

/// Writes both index files (whole, page-padded) and syncs them. A crash in
/// the middle leaves a file whose CRC fails: recovery then rebuilds it.
pub(crate) async fn store_indexes(
    dir: &dyn Directory,
    meta: &IndexMeta,
    offsets: &[OffsetEntry],
    times: &[TimeEntry],
) -> Result<()> {
    let files = [
        (
            file_name(meta.base_offset, FileKind::OffsetIndex),
            index::encode_offset_index(meta, offsets),
        ),
        (
            file_name(meta.base_offset, FileKind::TimeIndex),
            index::encode_time_index(meta, times),
        ),
    ];
    for (name, bytes) in files {
        let io = |e| StorageError::io("index write", e);
        let file: Rc<dyn File> = dir.open_file(&name, true).await.map_err(io)?;
        let mut buf = file.alloc_buffer(align_up(bytes.len() as u64) as usize);
        let (data, padding) = buf.as_mut_slice().split_at_mut(bytes.len());
        data.copy_from_slice(&bytes);
        padding.fill(0);
        file.write_at(buf, 0).await.map_err(io)?;
        file.set_len(bytes.len() as u64).await.map_err(io)?;
        file.sync().await.map_err(io)?;
    }
    dir.sync()
        .await
        .map_err(|e| StorageError::io("directory sync", e))?;
    Ok(())
}

/// Removes both index files of a segment (missing ones are fine).
pub(crate) async fn remove_indexes(dir: &dyn Directory, base: i64) -> Result<()> {
    for kind in [FileKind::OffsetIndex, FileKind::TimeIndex] {
        match dir.remove_file(&file_name(base, kind)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StorageError::io("remove index", e)),
        }
    }
    Ok(())
}
