//! Operations that hold the whole log: sync, close, truncate, retention,
//! delete.

use super::segment::Segment;
use super::{Log, Mark, Tail};
use crate::error::{Result, StorageError};
use crate::format::index::lookup_position;
use crate::format::segment::{file_name, scan, FileKind, ScanStop};
use crate::io::align_down;
use crate::limits;

/// What [`Log::apply_retention`] deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub segments_deleted: usize,
    pub bytes_deleted: u64,
    pub log_start_offset: i64,
}

impl Log {
    /// Waits until everything appended before this call is synced, whatever
    /// the fsync policy (which it overrides for this data).
    pub async fn sync(&self) -> Result<()> {
        let inner = &self.inner;
        let (target, generation) = {
            let st = inner.state.borrow();
            (st.log_end_offset, st.generation)
        };
        loop {
            {
                let mut st = inner.state.borrow_mut();
                if let Some(e) = st.discarded_since(generation, target - 1) {
                    return Err(e);
                }
                if st.durable.end_offset >= target {
                    return Ok(());
                }
                if let Some(e) = &st.failed {
                    return Err(StorageError::Failed(e.clone()));
                }
                if st.closed {
                    return Err(StorageError::Closed);
                }
                st.sync_requested_to = st.sync_requested_to.max(target);
            }
            inner.work.notify_all();
            inner.changed.notified().await;
        }
    }

    /// Waits until everything buffered is either synced or discarded (a
    /// full disk): afterwards the durable end is the log end.
    async fn sync_everything(&self) -> Result<()> {
        let inner = &self.inner;
        loop {
            {
                let mut st = inner.state.borrow_mut();
                if st.durable.end_offset >= st.log_end_offset {
                    return Ok(());
                }
                if let Some(e) = &st.failed {
                    return Err(StorageError::Failed(e.clone()));
                }
                st.sync_requested_to = st.sync_requested_to.max(st.log_end_offset);
            }
            inner.work.notify_all();
            inner.changed.notified().await;
        }
    }

    /// Flushes and syncs everything, stops the background tasks, writes the indexes
    /// of the active segment (so the next open scans nothing) and releases
    /// the cache. Appends after this fail with `Closed`.
    pub async fn close(&self) -> Result<()> {
        let inner = &self.inner;
        self.acquire_exclusive().await?;
        inner.state.borrow_mut().closing = true;
        inner.work.notify_all();
        let tasks = std::mem::take(&mut *inner.tasks.borrow_mut());
        for task in tasks {
            task.await;
        }
        let result = self.finish_close().await;
        let mut st = inner.state.borrow_mut();
        st.closed = true;
        st.exclusive = false;
        drop(st);
        inner.shard.cache().remove_all(&inner.cache);
        inner.changed.notify_all();
        result
    }

    async fn finish_close(&self) -> Result<()> {
        let inner = &self.inner;
        let (file, size, base) = {
            let st = inner.state.borrow();
            if let Some(e) = &st.failed {
                return Err(StorageError::Failed(e.clone()));
            }
            assert_eq!(
                st.written, st.durable,
                "the tasks exit only when all is synced"
            );
            assert_eq!(st.durable.end_offset, st.log_end_offset);
            let a = st.active();
            (a.file.clone(), a.size_bytes, a.base_offset)
        };
        let io = |e| StorageError::io("close", e);
        file.set_len(size).await.map_err(io)?;
        file.sync().await.map_err(io)?;
        super::flush::write_indexes_or_remove(inner, base).await
    }

    /// Closes the log and removes its directory (topic deletion).
    pub async fn delete(self) -> Result<()> {
        let closed = self.close().await;
        if let Err(e) = &closed {
            tracing::warn!(error = %e, "deleting a log that did not close cleanly");
        }
        self.inner
            .dir
            .remove_all()
            .await
            .map_err(|e| StorageError::io("remove log directory", e))
    }

    async fn acquire_exclusive(&self) -> Result<()> {
        loop {
            {
                let mut st = self.inner.state.borrow_mut();
                st.check_usable()?;
                if !st.exclusive {
                    st.exclusive = true;
                    return Ok(());
                }
            }
            self.inner.changed.notified().await;
        }
    }

    fn release_exclusive(&self) {
        self.inner.state.borrow_mut().exclusive = false;
        self.inner.changed.notify_all();
    }

    /// Removes every batch at or after `offset`, which must be the base
    /// offset of a batch or the log end (a Raft follower whose log diverged).
    /// Durable when it returns. Appends wait while it runs.
    pub async fn truncate(&self, offset: i64) -> Result<()> {
        self.acquire_exclusive().await?;
        let result = async {
            self.sync_everything().await?;
            self.truncate_synced(offset).await
        }
        .await;
        self.release_exclusive();
        result
    }

    async fn truncate_synced(&self, offset: i64) -> Result<()> {
        let inner = &self.inner;
        let io = |op| move |e| StorageError::io(op, e);
        let (i, file, scan_from, seg_base, seg_size) = {
            let st = inner.state.borrow();
            if offset < st.log_start_offset || offset > st.log_end_offset {
                return Err(StorageError::OffsetOutOfRange {
                    offset,
                    log_start_offset: st.log_start_offset,
                    log_end_offset: st.log_end_offset,
                });
            }
            if offset == st.log_end_offset {
                return Ok(());
            }
            let mut i = st.segments.partition_point(|s| s.base_offset <= offset) - 1;
            if st.segments[i].base_offset == offset && i > 0 {
                // Cut at a segment boundary: the previous segment becomes
                // the active one, whole.
                i -= 1;
            }
            let seg = &st.segments[i];
            let rel = (offset.min(seg.next_offset) - seg.base_offset) as u32;
            // Scan from the time index entry below the cut, so the exact max
            // timestamp of what remains is known.
            let t = seg
                .time_index
                .iter()
                .rev()
                .find(|t| (t.relative_offset as i64) < offset - seg.base_offset)
                .map_or(0, |t| t.relative_offset);
            let from = lookup_position(&seg.offset_index, t.min(rel)) as u64;
            (i, seg.file.clone(), from, seg.base_offset, seg.size_bytes)
        };
        // Find the cut position and the max timestamp of what stays.
        let mut position = None;
        let mut max_ts = {
            let st = inner.state.borrow();
            let seg = &st.segments[i];
            seg.time_index
                .iter()
                .rev()
                .find(|t| (t.relative_offset as i64) < offset - seg_base)
                .map_or((-1, -1), |t| {
                    (t.timestamp, seg_base + t.relative_offset as i64)
                })
        };
        let mut pos = scan_from;
        let mut want = limits::SCAN_READ_BYTES;
        while pos < seg_size && position.is_none() {
            let len = (want as u64).min(seg_size - pos) as usize;
            let buf = file.read_at(pos, len).await.map_err(io("truncate scan"))?;
            let mut boundary_error = false;
            let (used, stop) = scan(&buf, None, false, |span| {
                if position.is_some() || boundary_error {
                    return;
                }
                if span.base_offset == offset {
                    position = Some(pos + span.position as u64);
                } else if span.last_offset >= offset {
                    boundary_error = true;
                } else if span.max_timestamp > max_ts.0 {
                    max_ts = (span.max_timestamp, span.base_offset);
                }
            });
            if boundary_error {
                return Err(StorageError::NotBatchBoundary(offset));
            }
            if position.is_some() {
                break;
            }
            want = match stop {
                ScanStop::Incomplete { needed: Some(n) } => n.max(limits::SCAN_READ_BYTES),
                _ => limits::SCAN_READ_BYTES,
            };
            if used == 0 && !matches!(stop, ScanStop::Incomplete { needed: Some(_) }) {
                return Err(StorageError::CorruptOnDisk {
                    segment_base_offset: seg_base,
                    position: pos,
                    reason: format!("truncate scan stopped: {stop:?}"),
                });
            }
            pos += used as u64;
        }
        let position = match position {
            Some(p) => p,
            None if offset == inner.state.borrow().segments[i].next_offset => seg_size,
            None => return Err(StorageError::NotBatchBoundary(offset)),
        };
        // No checkpoint may write index files of segments being removed or
        // cut, nor record its progress over ours, until we are done.
        let _index_lock = super::flush::lock_indexes(inner).await?;
        // Later segments go first, newest first, so a crash in the middle
        // leaves a shorter but contiguous log.
        let removed: Vec<Segment> = inner.state.borrow_mut().segments.split_off(i + 1);
        for seg in removed.iter().rev() {
            remove_segment_files(self, seg.base_offset).await?;
        }
        inner.dir.sync().await.map_err(io("directory sync"))?;
        file.set_len(position).await.map_err(io("truncate"))?;
        file.sync().await.map_err(io("truncate sync"))?;
        let page = align_down(position);
        let tail_bytes = file
            .read_at(page, (position - page) as usize)
            .await
            .map_err(io("read tail page"))?
            .to_vec();
        {
            let mut st = inner.state.borrow_mut();
            let seg = st.active_mut();
            seg.cut(position, offset, max_ts);
            seg.sealed = false;
            let mark = Mark {
                segment_base: seg_base,
                bytes: position,
                end_offset: offset,
                max_timestamp: max_ts,
            };
            st.log_end_offset = offset;
            st.record_rollback(offset, StorageError::Truncated(offset));
            st.written = mark;
            st.durable = mark;
            st.checkpoint_bytes = position;
            st.allocated_bytes = 0;
            let tail = Tail {
                segment_base: seg_base,
                file_pos: page,
                bytes: tail_bytes,
            };
            st.tail = tail.clone();
            st.written_tail = tail;
        }
        inner.shard.cache().remove_from(&inner.cache, offset);
        super::flush::write_indexes_or_remove_locked(inner, seg_base).await?;
        Ok(())
    }

    /// Deletes whole sealed segments from the front while the log is larger
    /// than `retention_bytes`, or while a segment's newest timestamp is older
    /// than `retention_ms` before `now_ms`; advances the log start offset.
    /// Never touches the active segment and never waits for appends.
    pub async fn apply_retention(&self, now_ms: i64) -> Result<RetentionReport> {
        let inner = &self.inner;
        let cfg = &inner.config;
        let victims: Vec<Segment> = {
            let mut st = inner.state.borrow_mut();
            if st.exclusive || st.closing || st.closed {
                return Ok(RetentionReport {
                    log_start_offset: st.log_start_offset,
                    ..Default::default()
                });
            }
            let mut total: u64 = st.segments.iter().map(|s| s.size_bytes).sum();
            let mut n = 0;
            let deletable = st.segments.len() - 1;
            for seg in &st.segments[..deletable] {
                debug_assert!(seg.sealed);
                let by_size = cfg.retention_bytes >= 0
                    && total - seg.size_bytes >= cfg.retention_bytes as u64;
                let by_age = cfg.retention_ms >= 0
                    && seg.max_timestamp >= 0
                    && seg.max_timestamp < now_ms.saturating_sub(cfg.retention_ms);
                if !(by_size || by_age) {
                    break;
                }
                total -= seg.size_bytes;
                n += 1;
            }
            let rest = st.segments.split_off(n);
            let victims = std::mem::replace(&mut st.segments, rest);
            st.log_start_offset = st.segments[0].base_offset;
            victims
        };
        self.remove_front(victims).await
    }

    /// Deletes the whole sealed segments that hold only offsets below
    /// `offset` (the data before it is kept elsewhere, say in a snapshot);
    /// advances the log start offset to the first segment kept. Never
    /// touches the active segment.
    pub async fn delete_segments_below(&self, offset: i64) -> Result<RetentionReport> {
        let victims: Vec<Segment> = {
            let mut st = self.inner.state.borrow_mut();
            if st.exclusive || st.closing || st.closed {
                return Ok(RetentionReport {
                    log_start_offset: st.log_start_offset,
                    ..Default::default()
                });
            }
            // Segment i holds offsets below segment i+1's base.
            let n = st
                .segments
                .windows(2)
                .take_while(|pair| pair[1].base_offset <= offset)
                .count();
            let rest = st.segments.split_off(n);
            let victims = std::mem::replace(&mut st.segments, rest);
            st.log_start_offset = st.segments[0].base_offset;
            victims
        };
        self.remove_front(victims).await
    }

    /// Removes the files of `victims`, segments already taken off the front.
    async fn remove_front(&self, victims: Vec<Segment>) -> Result<RetentionReport> {
        let report = RetentionReport {
            segments_deleted: victims.len(),
            bytes_deleted: victims.iter().map(|s| s.size_bytes).sum(),
            log_start_offset: self.log_start_offset(),
        };
        if victims.is_empty() {
            return Ok(report);
        }
        // Oldest first: a crash in the middle leaves a contiguous log.
        for seg in &victims {
            remove_segment_files(self, seg.base_offset).await?;
        }
        self.inner
            .dir
            .sync()
            .await
            .map_err(|e| StorageError::io("directory sync", e))?;
        Ok(report)
    }
}

async fn remove_segment_files(log: &Log, base: i64) -> Result<()> {
    let dir = &log.inner.dir;
    // The segment goes first: index files without a segment are removed by
    // recovery, a segment without indexes gets them rebuilt.
    for kind in [
        FileKind::Segment,
        FileKind::OffsetIndex,
        FileKind::TimeIndex,
    ] {
        match dir.remove_file(&file_name(base, kind)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StorageError::io("remove segment", e)),
        }
    }
    Ok(())
}
