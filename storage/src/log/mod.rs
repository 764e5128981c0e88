//! The partition log: appends with group commit, reads, and the operations
//! the broker and Raft need (truncate, retention, timestamps, shutdown).
//!
//! A `Log` lives on one shard (glommio executor) and is `!Send`; cloning it
//! is cheap and gives another handle to the same log. Three background
//! tasks per log (`flush`: the writer, the syncer and the checkpointer)
//! write and sync what appends buffer and checkpoint the indexes.

mod admin;
mod flush;
mod read;
mod recovery;
mod segment;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;

use crate::batch::{self, BatchHeader};
use crate::cache::{LogCache, ShardStorage};
use crate::config::{FsyncPolicy, LogConfig};
use crate::error::{Result, StorageError};
use crate::io::{align_down, align_up, dma::DmaDirectory, Directory, File, IoBuf};
use crate::limits;
use crate::notify::Signal;

use segment::Segment;

pub use admin::RetentionReport;
pub use read::ReadResult;
pub use recovery::{RecoveryReport, TornTail};

/// What one append assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// Largest max timestamp among the appended batches.
    pub max_timestamp: i64,
    pub batch_count: usize,
    pub bytes: usize,
    /// Rollback generation at append time; lets [`Log::wait_durable`] (and
    /// [`Log::discarded_since`]) tell a discarded append from a later one
    /// that reused its offsets.
    pub generation: u64,
}

/// A handle to one partition log.
#[derive(Clone)]
pub struct Log {
    inner: Rc<LogInner>,
}

pub(crate) struct LogInner {
    pub config: LogConfig,
    pub dir: Rc<dyn Directory>,
    pub shard: Rc<ShardStorage>,
    pub cache: Rc<LogCache>,
    pub state: RefCell<State>,
    /// Progress of any kind: writes, syncs, failures, freed buffer space,
    /// sealed segments, shutdown.
    pub changed: Signal,
    /// Wakes the background tasks (shared with them, so that they can
    /// wait without keeping the log alive).
    pub work: Rc<Signal>,
    /// The writer, syncer and checkpointer tasks (see `flush`), awaited by
    /// `close`.
    pub tasks: RefCell<Vec<glommio::task::JoinHandle<()>>>,
    /// Held while writing or removing index files (see `flush`).
    pub index_lock: glommio::sync::Semaphore,
}

/// Where the written or durable data ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    pub segment_base: i64,
    pub bytes: u64,
    pub end_offset: i64,
    pub max_timestamp: (i64, i64),
}

/// The partial last page of the active segment after the last chunk taken
/// for writing: the start of the next chunk.
#[derive(Debug, Clone)]
pub(crate) struct Tail {
    pub segment_base: i64,
    pub file_pos: u64,
    pub bytes: Vec<u8>,
}

/// Buffered appends waiting for one write. It starts with the already
/// written partial page (`seed_len` bytes), because direct writes cover
/// whole pages; rewriting those bytes identically is safe (DESIGN.md).
pub(crate) struct Chunk {
    pub segment_base: i64,
    pub file: Rc<dyn File>,
    pub file_pos: u64,
    pub buf: IoBuf,
    pub len: usize,
    pub seed_len: usize,
    pub end_offset: i64,
    pub max_timestamp: (i64, i64),
    /// This chunk ends its segment: after writing it the writer seals the
    /// segment and starts the next one.
    pub seal: bool,
}

pub(crate) struct State {
    pub segments: Vec<Segment>,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    pub written: Mark,
    pub durable: Mark,
    pub open_chunk: Option<Chunk>,
    /// Capacity of the next open chunk, adapted to the write rate.
    pub chunk_capacity: usize,
    pub in_flight_bytes: usize,
    pub tail: Tail,
    /// Tail page as of `written`, to restart from after a rollback.
    pub written_tail: Tail,
    pub unsynced_bytes: u64,
    pub last_sync: Instant,
    /// Durable bytes of the active segment at its last index checkpoint.
    pub checkpoint_bytes: u64,
    /// Bytes of the active segment reserved with `File::preallocate`.
    pub allocated_bytes: u64,
    pub failed: Option<Arc<StorageError>>,
    /// A write found the disk full and none has succeeded since: the
    /// episode is logged once, when it starts and when it ends.
    pub disk_full: bool,
    pub closing: bool,
    pub closed: bool,
    /// A truncate or close holds the log; appends wait.
    pub exclusive: bool,
    /// `sync` asked for everything below this offset to be synced.
    pub sync_requested_to: i64,
    pub generation: u64,
    /// (generation that the rollback ended, first discarded offset, what
    /// waiters of discarded appends get).
    pub rollbacks: VecDeque<(u64, i64, StorageError)>,
}

impl State {
    /// The error for a waiter of offsets up to `last_offset`, appended at
    /// `generation`, if a rollback or truncation discarded any of them.
    pub fn discarded_since(&self, generation: u64, last_offset: i64) -> Option<StorageError> {
        if self.generation == generation {
            return None;
        }
        let oldest_remembered = self.rollbacks.front().map_or(self.generation, |r| r.0 - 1);
        if oldest_remembered > generation {
            return Some(StorageError::DiskFull);
        }
        self.rollbacks
            .iter()
            .find(|r| r.0 > generation && r.1 <= last_offset)
            .map(|r| r.2.clone())
    }

    /// Forgets every offset from `from` on for waiters: a later append may
    /// reuse them.
    pub fn record_rollback(&mut self, from: i64, reason: StorageError) {
        self.generation += 1;
        let g = self.generation;
        self.rollbacks.push_back((g, from, reason));
        if self.rollbacks.len() > limits::ROLLBACK_HISTORY_MAX {
            self.rollbacks.pop_front();
        }
    }

    pub fn high_watermark(&self, policy: FsyncPolicy) -> i64 {
        self.ack_mark(policy).end_offset
    }

    /// The mark below which data is acknowledged and readable.
    pub fn ack_mark(&self, policy: FsyncPolicy) -> Mark {
        match policy {
            FsyncPolicy::Always => self.durable,
            FsyncPolicy::Interval { .. } => self.written,
        }
    }

    pub fn active(&self) -> &Segment {
        self.segments
            .last()
            .expect("a log has at least one segment")
    }

    pub fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .last_mut()
            .expect("a log has at least one segment")
    }

    pub fn pending_bytes(&self) -> usize {
        self.in_flight_bytes + self.open_chunk.as_ref().map_or(0, |c| c.len - c.seed_len)
    }

    pub fn check_usable(&self) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(StorageError::Failed(e.clone()));
        }
        if self.closing || self.closed {
            return Err(StorageError::Closed);
        }
        Ok(())
    }
}

impl Drop for LogInner {
    fn drop(&mut self) {
        // The last handle went away without `close`: let the tasks exit.
        // Buffered appends that were not written are lost, as in a crash.
        self.work.notify_all();
        self.shard.cache().remove_all(&self.cache);
    }
}

impl Log {
    /// Opens (creating if needed) the log in `path` on the real disk, running
    /// recovery. Must be called inside a glommio executor.
    pub async fn open(
        path: &Path,
        config: LogConfig,
        shard: &Rc<ShardStorage>,
    ) -> Result<(Log, RecoveryReport)> {
        let dir = DmaDirectory::open(path)
            .await
            .map_err(|e| StorageError::io("create log directory", e))?;
        Self::open_in(Rc::new(dir), config, shard).await
    }

    /// Opens the log stored in `dir` (any backend), running recovery.
    pub async fn open_in(
        dir: Rc<dyn Directory>,
        config: LogConfig,
        shard: &Rc<ShardStorage>,
    ) -> Result<(Log, RecoveryReport)> {
        config.validate()?;
        let (state, report) = recovery::recover(dir.as_ref(), &config).await?;
        let inner = Rc::new(LogInner {
            config,
            dir,
            shard: shard.clone(),
            cache: Rc::new(LogCache::default()),
            state: RefCell::new(state),
            changed: Signal::default(),
            work: Rc::new(Signal::default()),
            tasks: RefCell::new(Vec::new()),
            index_lock: glommio::sync::Semaphore::new(1),
        });
        let writer = flush::run_writer(Rc::downgrade(&inner), inner.work.clone());
        let syncer = flush::run_syncer(Rc::downgrade(&inner), inner.work.clone());
        let checkpointer = flush::run_checkpointer(Rc::downgrade(&inner), inner.work.clone());
        *inner.tasks.borrow_mut() = vec![
            glommio::spawn_local(writer).detach(),
            glommio::spawn_local(syncer).detach(),
            glommio::spawn_local(checkpointer).detach(),
        ];
        Ok((Log { inner }, report))
    }

    pub fn config(&self) -> &LogConfig {
        &self.inner.config
    }

    /// Appends the record batches in `records` (one or more whole batches,
    /// back to back, as in a Produce request). Every batch is checked
    /// (header, size, CRC) before anything is appended; then offsets are
    /// assigned by stamping each batch's base offset and `term` (the
    /// partition leader epoch) in place, and the bytes are buffered for the
    /// writer. Returns once buffered: call [`Log::wait_durable`] (or use
    /// [`Log::append_durable`]) before acknowledging.
    ///
    /// Waits (back-pressure) while too much is buffered.
    pub async fn append(&self, records: BytesMut, term: i32) -> Result<AppendInfo> {
        let spans = validate(&records, true)?;
        self.append_validated(records, spans, term).await
    }

    /// [`Log::append`] for batches whose CRC the caller has just verified
    /// (the broker's request validation does): headers and sizes are still
    /// checked, the CRC is not computed a second time. Recovery and disk
    /// reads verify CRCs regardless.
    pub async fn append_crc_verified(&self, records: BytesMut, term: i32) -> Result<AppendInfo> {
        let spans = validate(&records, false)?;
        self.append_validated(records, spans, term).await
    }

    async fn append_validated(
        &self,
        mut records: BytesMut,
        spans: Vec<(usize, BatchHeader)>,
        term: i32,
    ) -> Result<AppendInfo> {
        let inner = &self.inner;
        loop {
            {
                let mut st = inner.state.borrow_mut();
                st.check_usable()?;
                let blocked = st.exclusive
                    || st.active().sealed
                    || (st.pending_bytes() > 0
                        && st.pending_bytes() + records.len() > limits::PENDING_BYTES_MAX);
                if !blocked {
                    if self.needs_roll(&st, records.len()) {
                        self.request_seal(&mut st);
                    } else if self.fits_open_chunk(&mut st, records.len()) {
                        return Ok(self.append_now(&mut st, &mut records, &spans, term));
                    }
                }
            }
            inner.work.notify_all();
            inner.changed.notified().await;
        }
    }

    /// [`Log::append`] followed by [`Log::wait_durable`].
    pub async fn append_durable(&self, records: BytesMut, term: i32) -> Result<AppendInfo> {
        let info = self.append(records, term).await?;
        self.wait_durable(&info).await?;
        Ok(info)
    }

    /// Copies `records` and appends them; for callers holding a borrowed slice.
    pub async fn append_slice(&self, records: &[u8], term: i32) -> Result<AppendInfo> {
        self.append(BytesMut::from(records), term).await
    }

    /// Waits until everything up to `info.last_offset` is acknowledged: synced
    /// under `FsyncPolicy::Always`, written under `Interval`. Fails if the
    /// append was discarded (disk full) or the log failed or closed first.
    pub async fn wait_durable(&self, info: &AppendInfo) -> Result<()> {
        let inner = &self.inner;
        loop {
            {
                let st = inner.state.borrow();
                // Discarded appends first: their offsets may have been
                // reused by later appends that are durable.
                if let Some(e) = st.discarded_since(info.generation, info.last_offset) {
                    return Err(e);
                }
                if st.high_watermark(inner.config.fsync) > info.last_offset {
                    return Ok(());
                }
                if let Some(e) = &st.failed {
                    return Err(StorageError::Failed(e.clone()));
                }
                if st.closed {
                    return Err(StorageError::Closed);
                }
            }
            inner.changed.notified().await;
        }
    }

    /// Waits until the high watermark passes `offset` (new data for a long
    /// poll), then returns it. The caller bounds the wait (max wait time).
    pub async fn wait_for_data(&self, offset: i64) -> Result<i64> {
        let inner = &self.inner;
        loop {
            {
                let st = inner.state.borrow();
                let hwm = st.high_watermark(inner.config.fsync);
                if hwm > offset {
                    return Ok(hwm);
                }
                if let Some(e) = &st.failed {
                    return Err(StorageError::Failed(e.clone()));
                }
                if st.closing || st.closed {
                    return Err(StorageError::Closed);
                }
            }
            inner.changed.notified().await;
        }
    }

    /// Last acknowledged offset + 1: durable under `Always`, written under
    /// `Interval`. Reads never return data at or past it.
    pub fn high_watermark(&self) -> i64 {
        self.inner
            .state
            .borrow()
            .high_watermark(self.inner.config.fsync)
    }

    /// The log's rollback generation: it changes whenever a rollback (a
    /// full disk) or a truncation discards appended offsets, which later
    /// appends may then reuse.
    pub fn generation(&self) -> u64 {
        self.inner.state.borrow().generation
    }

    /// Whether offsets up to `last_offset`, appended at `generation`, were
    /// discarded since (or may have been: history this old is forgotten).
    pub fn discarded_since(&self, generation: u64, last_offset: i64) -> bool {
        self.inner
            .state
            .borrow()
            .discarded_since(generation, last_offset)
            .is_some()
    }

    /// Last synced offset + 1, whatever the policy.
    pub fn durable_offset(&self) -> i64 {
        self.inner.state.borrow().durable.end_offset
    }

    /// Offset the next appended batch will get.
    pub fn log_end_offset(&self) -> i64 {
        self.inner.state.borrow().log_end_offset
    }

    pub fn log_start_offset(&self) -> i64 {
        self.inner.state.borrow().log_start_offset
    }

    /// Total logical bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        let st = self.inner.state.borrow();
        st.segments.iter().map(|s| s.size_bytes).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.inner.state.borrow().segments.len()
    }

    fn needs_roll(&self, st: &State, incoming: usize) -> bool {
        let active = st.active();
        active.size_bytes > 0
            && (active.size_bytes + incoming as u64 > self.inner.config.segment_bytes_max
                || active.created.elapsed().as_millis() as u64 >= self.inner.config.segment_age_ms)
    }

    /// Asks the writer to seal the active segment after what is buffered.
    fn request_seal(&self, st: &mut State) {
        if st.open_chunk.is_none() {
            let chunk = new_chunk(st, 0);
            st.open_chunk = Some(chunk);
        }
        st.open_chunk.as_mut().expect("just ensured").seal = true;
    }

    /// Makes sure there is an open chunk for the active segment with room
    /// for `incoming` bytes; false if the caller must wait for the writer.
    fn fits_open_chunk(&self, st: &mut State, incoming: usize) -> bool {
        match &st.open_chunk {
            Some(c) => !c.seal && c.len + incoming <= c.buf.len(),
            None => {
                let chunk = new_chunk(st, incoming);
                st.open_chunk = Some(chunk);
                true
            }
        }
    }

    fn append_now(
        &self,
        st: &mut State,
        records: &mut BytesMut,
        spans: &[(usize, BatchHeader)],
        term: i32,
    ) -> AppendInfo {
        let inner = &self.inner;
        let interval = inner.config.index_interval_bytes as u64;
        let base_offset = st.log_end_offset;
        let mut next = base_offset;
        let mut max_timestamp = -1;
        for &(pos, header) in spans {
            let total = header.total_bytes();
            batch::stamp(&mut records[pos..pos + total], next, term);
            let last = next + header.last_offset_delta as i64;
            st.active_mut()
                .push_batch(next, last, header.max_timestamp, total as u64, interval);
            max_timestamp = max_timestamp.max(header.max_timestamp);
            next = last + 1;
        }
        let active_max = (st.active().max_timestamp, st.active().max_timestamp_offset);
        let chunk = st.open_chunk.as_mut().expect("fits_open_chunk made one");
        let end = chunk.len + records.len();
        chunk.buf.as_mut_slice()[chunk.len..end].copy_from_slice(records);
        chunk.len = end;
        chunk.end_offset = next;
        chunk.max_timestamp = active_max;
        debug_assert_eq!(chunk.file_pos + chunk.len as u64, st.active().size_bytes);
        st.log_end_offset = next;
        let bytes = records.len();
        let frozen = std::mem::take(records).freeze();
        inner
            .shard
            .cache()
            .insert(&inner.cache, base_offset, next - 1, frozen);
        inner.work.notify_all();
        AppendInfo {
            base_offset,
            last_offset: next - 1,
            max_timestamp,
            batch_count: spans.len(),
            bytes,
            generation: st.generation,
        }
    }
}

/// A new open chunk for the active segment, seeded with the tail page.
fn new_chunk(st: &State, incoming: usize) -> Chunk {
    let active = st.active();
    assert_eq!(
        st.tail.segment_base, active.base_offset,
        "tail of another segment"
    );
    let seed_len = st.tail.bytes.len();
    let capacity = (st.chunk_capacity as u64).max(align_up((seed_len + incoming) as u64));
    let mut buf = active.file.alloc_buffer(capacity as usize);
    buf.as_mut_slice()[..seed_len].copy_from_slice(&st.tail.bytes);
    Chunk {
        segment_base: active.base_offset,
        file: active.file.clone(),
        file_pos: st.tail.file_pos,
        buf,
        len: seed_len,
        seed_len,
        end_offset: active.next_offset,
        max_timestamp: (active.max_timestamp, active.max_timestamp_offset),
        seal: false,
    }
}

/// The partial last page of a chunk: where the next chunk starts.
pub(crate) fn tail_of(chunk: &Chunk) -> Tail {
    let end = chunk.file_pos + chunk.len as u64;
    let page = align_down(end);
    let from = (page - chunk.file_pos) as usize;
    Tail {
        segment_base: chunk.segment_base,
        file_pos: page,
        bytes: chunk.buf.as_slice()[from..chunk.len].to_vec(),
    }
}

/// Splits `records` into batches and checks each (header, size and, if
/// `verify_crc`, CRC).
fn validate(records: &[u8], verify_crc: bool) -> Result<Vec<(usize, BatchHeader)>> {
    if records.is_empty() {
        return Err(StorageError::EmptyAppend);
    }
    if records.len() > limits::PENDING_BYTES_MAX - 2 * limits::WRITE_CHUNK_BYTES {
        return Err(StorageError::BatchTooLarge {
            bytes: records.len(),
            max: limits::BATCH_BYTES_MAX,
        });
    }
    let mut spans = Vec::new();
    let mut pos = 0;
    while pos < records.len() {
        let header = BatchHeader::parse(&records[pos..])?;
        let total = header.total_bytes();
        if total > limits::BATCH_BYTES_MAX {
            return Err(StorageError::BatchTooLarge {
                bytes: total,
                max: limits::BATCH_BYTES_MAX,
            });
        }
        let (_, whole, _) = batch::split_batch(&records[pos..])?;
        if verify_crc {
            batch::verify_crc(whole)?;
        }
        spans.push((pos, header));
        pos += total;
    }
    Ok(spans)
}
