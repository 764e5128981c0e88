//! The three background tasks of a log: the writer, which writes buffered
//! chunks and seals full segments; the syncer, which makes written data
//! durable (group commit); and the checkpointer, which writes the active
//! segment's indexes now and then to bound recovery.
//!
//! Only the writer writes to the active segment, one chunk at a time, so
//! consecutive writes that both cover the tail page never race. Index files
//! are written by whoever holds the log's index lock, so a checkpoint never
//! interleaves with the indexes a roll, a truncation or close writes.

use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::future;

use super::{recovery, tail_of, Chunk, LogInner, Mark, Tail};
use crate::config::FsyncPolicy;
use crate::error::{is_disk_full, StorageError};
use crate::format::segment::{file_name, FileKind};
use crate::io::{align_up, File};
use crate::limits;
use crate::notify::Signal;

use super::segment::Segment;

/// The writer task: takes the open chunk whenever it has data and writes it
/// (one write in flight, since consecutive chunks share the tail page);
/// seals segments. It holds the log only while doing I/O, so dropping every
/// `Log` handle ends it (see `Drop for LogInner`).
pub(crate) async fn run_writer(log: Weak<LogInner>, work: Rc<Signal>) {
    loop {
        let Some((inner, chunk)) = next_chunk(&log, &work).await else {
            return;
        };
        if let Err(e) = flush_chunk(&inner, chunk).await {
            fail(&inner, e);
            return;
        }
    }
}

/// The syncer task: whenever something is written and not synced (under
/// `Always`) or the interval says so, issues one fdatasync covering every
/// write completed so far. It runs beside the writer, so the device always
/// has the next write while a sync is in progress, and all appends that
/// completed during one sync share the next one: group commit.
pub(crate) async fn run_syncer(log: Weak<LogInner>, work: Rc<Signal>) {
    loop {
        let Some(inner) = log.upgrade() else {
            return;
        };
        let step = {
            let st = inner.state.borrow();
            let unsynced = st.written != st.durable;
            if st.failed.is_some() {
                Step::Exit
            } else if unsynced {
                match inner.config.fsync {
                    _ if st.sync_requested_to > st.durable.end_offset => Step::SyncDue,
                    FsyncPolicy::Always => Step::SyncDue,
                    FsyncPolicy::Interval { ms, bytes } => {
                        let due = st.last_sync + Duration::from_millis(ms);
                        let now = Instant::now();
                        if st.closing || st.unsynced_bytes >= bytes || now >= due {
                            Step::SyncDue
                        } else {
                            Step::Wait(Some(due - now))
                        }
                    }
                }
            } else if st.closing && st.open_chunk.is_none() && st.in_flight_bytes == 0 {
                Step::Exit
            } else {
                Step::Wait(None)
            }
        };
        match step {
            Step::SyncDue => {
                if let Err(e) = sync_active(&inner).await {
                    fail(&inner, e);
                    return;
                }
            }
            Step::Exit => return,
            Step::Wait(timeout) => {
                // Register before letting go of the log, so no wake-up is lost.
                let notified = work.notified();
                drop(inner);
                match timeout {
                    None => notified.await,
                    Some(d) => future::or(notified, glommio::timer::sleep(d)).await,
                }
            }
        }
    }
}

enum Step {
    SyncDue,
    Wait(Option<Duration>),
    Exit,
}

/// Waits for the next chunk to write. `None` means exit (closed or failed).
async fn next_chunk(log: &Weak<LogInner>, work: &Signal) -> Option<(Rc<LogInner>, Chunk)> {
    loop {
        let inner = log.upgrade()?;
        {
            let mut st = inner.state.borrow_mut();
            let has_data = st
                .open_chunk
                .as_ref()
                .is_some_and(|c| c.len > c.seed_len || c.seal);
            if st.failed.is_some() {
                return None;
            }
            if has_data {
                let chunk = st.open_chunk.take().expect("checked");
                assert_eq!(chunk.segment_base, st.active().base_offset);
                st.in_flight_bytes = chunk.len - chunk.seed_len;
                st.tail = tail_of(&chunk);
                // Size the next chunk after this one: busy logs get big
                // writes, idle ones do not pin big buffers.
                st.chunk_capacity = align_up(2 * chunk.len as u64).clamp(
                    limits::WRITE_CHUNK_BYTES_MIN as u64,
                    limits::WRITE_CHUNK_BYTES as u64,
                ) as usize;
                if chunk.seal {
                    // No append may reach this segment any more; they wait
                    // until `seal_and_roll` has created the next one.
                    st.active_mut().sealed = true;
                }
                drop(st);
                return Some((inner, chunk));
            }
            if st.closing {
                return None;
            }
        }
        let notified = work.notified();
        drop(inner);
        notified.await;
    }
}

/// Writes one chunk; a sealing chunk is also synced and its segment sealed.
async fn flush_chunk(inner: &Rc<LogInner>, chunk: Chunk) -> Result<(), StorageError> {
    let seal = chunk.seal;
    if write_chunk(inner, chunk).await? == Outcome::RolledBack {
        return Ok(());
    }
    if seal {
        sync_active(inner).await?;
        seal_and_roll(inner).await?;
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Written,
    RolledBack,
}

/// One direct write of a chunk; moves the written mark.
async fn write_chunk(inner: &Rc<LogInner>, chunk: Chunk) -> Result<Outcome, StorageError> {
    let Chunk {
        segment_base,
        file,
        file_pos,
        mut buf,
        len,
        seed_len,
        end_offset,
        max_timestamp,
        ..
    } = chunk;
    let new_bytes = (len - seed_len) as u64;
    if new_bytes > 0 {
        let written_tail = {
            let page = crate::io::align_down(file_pos + len as u64);
            let from = (page - file_pos) as usize;
            Tail {
                segment_base,
                file_pos: page,
                bytes: buf.as_slice()[from..len].to_vec(),
            }
        };
        let padded = align_up(len as u64) as usize;
        buf.as_mut_slice()[len..padded].fill(0);
        buf.truncate(padded);
        let end = file_pos + buf.len() as u64;
        let allocated = inner.state.borrow().allocated_bytes;
        if end > allocated {
            let target =
                (end + limits::PREALLOCATE_STEP_BYTES).min(inner.config.segment_bytes_max.max(end));
            preallocate(&*file, target).await;
            inner.state.borrow_mut().allocated_bytes = target;
        }
        if let Err(e) = file.write_at(buf, file_pos).await {
            if is_disk_full(&e) {
                rollback(inner, &*file).await?;
                return Ok(Outcome::RolledBack);
            }
            return Err(StorageError::io("segment write", e));
        }
        let mut st = inner.state.borrow_mut();
        st.written = Mark {
            segment_base,
            bytes: file_pos + len as u64,
            end_offset,
            max_timestamp,
        };
        st.written_tail = written_tail;
        st.unsynced_bytes += new_bytes;
        if std::mem::take(&mut st.disk_full) {
            tracing::info!(segment_base, "disk space available again: appends resumed");
        }
    }
    inner.state.borrow_mut().in_flight_bytes = 0;
    inner.changed.notify_all();
    inner.work.notify_all(); // the syncer
    Ok(Outcome::Written)
}

/// fdatasync of the active segment; then everything written is durable.
async fn sync_active(inner: &Rc<LogInner>) -> Result<(), StorageError> {
    let (file, mark) = {
        let st = inner.state.borrow();
        (st.active().file.clone(), st.written)
    };
    debug_assert_eq!(mark.segment_base, inner.state.borrow().active().base_offset);
    file.sync()
        .await
        .map_err(|e| StorageError::io("segment sync", e))?;
    let mut st = inner.state.borrow_mut();
    // The writer (sealing) and the syncer may both sync; the durable mark
    // only moves forward within the active segment.
    if mark.segment_base == st.durable.segment_base && mark.bytes > st.durable.bytes {
        st.durable = mark;
        st.unsynced_bytes = st.written.bytes.saturating_sub(mark.bytes);
    }
    st.last_sync = Instant::now();
    drop(st);
    inner.changed.notify_all();
    inner.work.notify_all(); // the checkpointer
    Ok(())
}

/// The checkpointer task: whenever `index_checkpoint_bytes` more of the
/// active segment are durable, writes its indexes covering them. It runs
/// beside the writer because an index write costs several syncs (2.4 ms
/// measured, every 16 MiB), which on the writer's path held back the next
/// segment write: a fifth of the writer's time at 2 GB/s (0.78 s of 4 s).
pub(crate) async fn run_checkpointer(log: Weak<LogInner>, work: Rc<Signal>) {
    loop {
        let Some(inner) = log.upgrade() else {
            return;
        };
        {
            let st = inner.state.borrow();
            // `close` writes the final indexes itself.
            if st.failed.is_some() || st.closing || st.closed {
                return;
            }
        }
        if checkpoint_due(&inner).is_some() {
            if let Err(e) = checkpoint(&inner).await {
                fail(&inner, e);
                return;
            }
            continue;
        }
        // Register before letting go of the log, so no wake-up is lost.
        let notified = work.notified();
        drop(inner);
        notified.await;
    }
}

/// The active segment and its durable bytes, if enough of them piled up
/// since the last checkpoint.
fn checkpoint_due(inner: &LogInner) -> Option<(i64, u64)> {
    let st = inner.state.borrow();
    let d = st.durable;
    let active = st.active();
    let due = d.segment_base == active.base_offset
        && !active.sealed
        && d.bytes >= st.checkpoint_bytes + inner.config.index_checkpoint_bytes;
    due.then_some((d.segment_base, d.bytes))
}

async fn checkpoint(inner: &Rc<LogInner>) -> Result<(), StorageError> {
    let _lock = lock_indexes(inner).await?;
    // A roll or truncation may have run while we waited for the lock.
    let Some((segment_base, covered)) = checkpoint_due(inner) else {
        return Ok(());
    };
    write_indexes_or_remove_locked(inner, segment_base).await?;
    inner.state.borrow_mut().checkpoint_bytes = covered;
    Ok(())
}

/// Holds the log's index lock: one writer of index files at a time.
pub(crate) async fn lock_indexes(
    inner: &LogInner,
) -> Result<glommio::sync::Permit<'_>, StorageError> {
    inner
        .index_lock
        .acquire_permit(1)
        .await
        .map_err(|_| StorageError::Closed)
}

/// Writes the indexes of segment `base`; if that fails (a full disk), removes
/// them instead, so that no stale index outlives the bytes it describes:
/// recovery rebuilds missing ones. Only a failure to remove is an error.
pub(crate) async fn write_indexes_or_remove(
    inner: &Rc<LogInner>,
    base: i64,
) -> Result<(), StorageError> {
    let _lock = lock_indexes(inner).await?;
    write_indexes_or_remove_locked(inner, base).await
}

/// [`write_indexes_or_remove`] for a caller that holds the index lock.
pub(crate) async fn write_indexes_or_remove_locked(
    inner: &Rc<LogInner>,
    base: i64,
) -> Result<(), StorageError> {
    let Err(e) = write_indexes(inner, base).await else {
        return Ok(());
    };
    tracing::warn!(base, error = %e, "index write failed; removing the index files");
    recovery::remove_indexes(inner.dir.as_ref(), base).await
}

/// Writes both index files of segment `base` describing its durable bytes.
async fn write_indexes(inner: &Rc<LogInner>, base: i64) -> Result<(), StorageError> {
    let (meta, offsets, times) = {
        let st = inner.state.borrow();
        let seg = st
            .segments
            .iter()
            .find(|s| s.base_offset == base)
            .expect("segment exists");
        let d = st.durable;
        if d.segment_base == base {
            seg.index_snapshot(d.bytes, d.end_offset, d.max_timestamp)
        } else {
            assert!(seg.sealed || d.segment_base > base);
            seg.index_snapshot(
                seg.size_bytes,
                seg.next_offset,
                (seg.max_timestamp, seg.max_timestamp_offset),
            )
        }
    };
    recovery::store_indexes(inner.dir.as_ref(), &meta, &offsets, &times).await
}

/// Seals the active segment (exact length, synced, indexes on disk) and
/// creates the next one.
async fn seal_and_roll(inner: &Rc<LogInner>) -> Result<(), StorageError> {
    let (base, file, size, next) = {
        let st = inner.state.borrow();
        let a = st.active();
        (a.base_offset, a.file.clone(), a.size_bytes, a.next_offset)
    };
    file.set_len(size)
        .await
        .map_err(|e| StorageError::io("segment seal", e))?;
    file.sync()
        .await
        .map_err(|e| StorageError::io("segment seal", e))?;
    write_indexes_or_remove(inner, base).await?;
    let name = file_name(next, FileKind::Segment);
    let new_file = inner
        .dir
        .open_file(&name, true)
        .await
        .map_err(|e| StorageError::io("segment create", e))?;
    inner
        .dir
        .sync()
        .await
        .map_err(|e| StorageError::io("directory sync", e))?;
    let mut st = inner.state.borrow_mut();
    st.segments.push(Segment::new(next, new_file));
    let empty = Tail {
        segment_base: next,
        file_pos: 0,
        bytes: Vec::new(),
    };
    st.tail = empty.clone();
    st.written_tail = empty;
    let mark = Mark {
        segment_base: next,
        bytes: 0,
        end_offset: next,
        max_timestamp: (-1, -1),
    };
    st.written = mark;
    st.durable = mark;
    st.checkpoint_bytes = 0;
    st.allocated_bytes = 0;
    drop(st);
    inner.changed.notify_all();
    Ok(())
}

/// A write found the disk full: discard everything not yet written (the
/// failed chunk and whatever was buffered since), cut the file back to the
/// written length, and keep going. Appends that were discarded learn it
/// through `wait_durable`.
async fn rollback(inner: &Rc<LogInner>, file: &dyn File) -> Result<(), StorageError> {
    let (written_bytes, from, first) = {
        let mut st = inner.state.borrow_mut();
        let w = st.written;
        assert_eq!(w.segment_base, st.active().base_offset);
        st.open_chunk = None;
        st.in_flight_bytes = 0;
        st.active_mut().cut(w.bytes, w.end_offset, w.max_timestamp);
        // A discarded seal is requested again by the next append that needs it.
        st.active_mut().sealed = false;
        st.log_end_offset = w.end_offset;
        st.tail = st.written_tail.clone();
        st.record_rollback(w.end_offset, StorageError::DiskFull);
        st.allocated_bytes = 0; // the cut below releases the reservation
        let first = !std::mem::replace(&mut st.disk_full, true);
        (w.bytes, w.end_offset, first)
    };
    inner.shard.cache().remove_from(&inner.cache, from);
    if first {
        tracing::warn!(
            from,
            "disk full: discarded appends not yet written; appends fail until space returns"
        );
    } else {
        tracing::debug!(from, "disk still full: discarded appends not yet written");
    }
    inner.changed.notify_all();
    // The syncer of a closing log waits for the buffered data to be gone.
    inner.work.notify_all();
    // A partial write may have left bytes past the written length; cut them
    // so that recovery can never resurrect discarded batches.
    file.set_len(written_bytes)
        .await
        .map_err(|e| StorageError::io("rollback truncate", e))?;
    Ok(())
}

/// An unrecoverable write or sync error: the log stops accepting appends.
fn fail(inner: &Rc<LogInner>, e: StorageError) {
    tracing::error!(error = %e, "partition log failed");
    let mut st = inner.state.borrow_mut();
    if st.failed.is_none() {
        st.failed = Some(Arc::new(e));
    }
    st.open_chunk = None;
    drop(st);
    inner.changed.notify_all();
    // The other tasks exit on a failed log; a parked syncer would otherwise
    // keep `close` waiting.
    inner.work.notify_all();
}

/// Reserves blocks ahead of the writes, `PREALLOCATE_STEP_BYTES` at a time.
/// Best effort: a file system without fallocate still works, only slower.
async fn preallocate(file: &dyn File, len: u64) {
    if let Err(e) = file.preallocate(len).await {
        tracing::debug!(error = %e, "segment preallocation failed");
    }
}
