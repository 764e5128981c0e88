//! A partition: its storage log and idempotent-producer state, and every
//! operation the request handlers run on it on the owner shard (append with
//! sequence checks, reads, waits, offset lookups). `Partition` is the only
//! way to a partition's log: its reads and offsets are bounded by the
//! partition's visible end (the high watermark), which is storage's durable
//! end on a single node and will be the Raft commit index once partitions
//! are replicated, without the handlers changing. Only the owner shard ever
//! touches a `Partition`; [`Partitions`] is the shard's set of them.

mod partitions;
pub mod producer;

pub use partitions::Partitions;

use std::cell::Cell;
use std::cell::RefCell;
use std::future::Future;
use std::path::PathBuf;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use net::ErrorCode;
use storage::batch::{split_batch, BatchHeader};
use storage::{Log, LogConfig, ReadResult, RetentionReport, StorageError};

/// A topic's config overrides, by Kafka config name.
pub type TopicConfigs = std::collections::BTreeMap<String, String>;
use crate::config::Config;
use crate::sequencer::{Sequencer, Ticket};
use producer::{last_sequence, BatchRecord, ProducerTable, SequenceCheck, NO_PRODUCER_ID};

pub struct Partition {
    pub topic: String,
    pub index: i32,
    log: Log,
    /// The leader epoch the controller gave this partition; stamped into
    /// every batch this broker appends as leader.
    leader_epoch: Cell<i32>,
    /// Largest batch accepted: the broker's limit, or the topic's
    /// `max.message.bytes` if lower.
    batch_bytes_max: usize,
    producers: RefCell<ProducerTable>,
    /// The log generation the producer table was last checked against for
    /// discarded appends.
    producers_generation: Cell<u64>,
    /// The order of appends: a produce draws its ticket when it reaches the
    /// owner shard (in its connection's request order) and holds its turn
    /// from the sequence check until the log has assigned offsets, so that
    /// batches reach the log in that order and pipelined batches of one
    /// producer are checked against state that includes their predecessors.
    /// The turn is not held while waiting for durability, so group commit
    /// still gathers many appends per sync.
    appends: Sequencer,
}

/// The successful outcome of a produce to one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub base_offset: i64,
    pub log_start_offset: i64,
}

/// Where a partition's files live: `DATA_DIR/logs/TOPIC-PARTITION`.
pub fn partition_dir(data_dir: &std::path::Path, topic: &str, index: i32) -> PathBuf {
    data_dir.join("logs").join(format!("{topic}-{index}"))
}

/// The storage settings of one topic: broker defaults with the topic's
/// overrides applied.
pub fn log_config(config: &Config, configs: &TopicConfigs) -> LogConfig {
    let get = |key: &str| configs.get(key).and_then(|v| v.parse::<i64>().ok());
    LogConfig {
        segment_bytes_max: get("segment.bytes").map_or(config.log.segment_bytes, |v| v as u64),
        segment_age_ms: get("segment.ms").map_or(config.log.segment_ms, |v| v as u64),
        fsync: config.log.storage_fsync(),
        retention_bytes: get("retention.bytes").unwrap_or(config.log.retention_bytes),
        retention_ms: get("retention.ms").unwrap_or(config.log.retention_ms),
        ..LogConfig::default()
    }
}

/// Maps a storage error to the Kafka error a client understands.
pub fn storage_error_code(e: &StorageError) -> ErrorCode {
    match e {
        StorageError::Corrupt(_) => ErrorCode::CorruptMessage,
        StorageError::BatchTooLarge { .. } => ErrorCode::MessageTooLarge,
        StorageError::EmptyAppend => ErrorCode::CorruptMessage,
        StorageError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        StorageError::Closed => ErrorCode::NotLeaderOrFollower,
        StorageError::NotBatchBoundary(_) | StorageError::InvalidConfig(_) => {
            ErrorCode::UnknownServerError
        }
        // Disk full, I/O errors, a failed log, damage on disk, and whatever
        // storage reports in future: the client may retry elsewhere/later.
        _ => ErrorCode::KafkaStorageError,
    }
}

impl Partition {
    /// Opens the log (running recovery) and rebuilds the producer state from
    /// the batch headers it holds.
    pub async fn open(
        storage: &Rc<storage::ShardStorage>,
        config: &Config,
        topic: &str,
        index: i32,
        configs: &TopicConfigs,
    ) -> Result<Rc<Self>, StorageError> {
        let dir = partition_dir(&config.data_dir, topic, index);
        let (log, report) = Log::open(&dir, log_config(config, configs), storage).await?;
        let generation = log.generation();
        if let Some(torn) = &report.torn_tail {
            tracing::warn!(topic, partition = index, ?torn, "recovery cut a torn tail");
        }
        tracing::debug!(topic, partition = index, ?report, "partition recovered");
        let partition = Rc::new(Self {
            topic: topic.to_string(),
            index,
            log,
            leader_epoch: Cell::new(0),
            batch_bytes_max: configs
                .get("max.message.bytes")
                .and_then(|v| v.parse::<usize>().ok())
                .map_or(config.server.batch_bytes_max, |topic| {
                    topic.min(config.server.batch_bytes_max)
                }),
            producers: RefCell::new(ProducerTable::default()),
            producers_generation: Cell::new(generation),
            appends: Sequencer::default(),
        });
        partition.rebuild_producer_state().await?;
        Ok(partition)
    }

    /// Replays the headers of every readable batch into the producer table.
    /// Only the newest [`limits::PRODUCER_STATE_REBUILD_OFFSETS`] offsets
    /// are replayed, so that opening a huge log stays fast; a producer whose
    /// last batch is older is treated as unknown (any sequence accepted), as
    /// Kafka does for producers whose state retention removed.
    ///
    /// [`limits::PRODUCER_STATE_REBUILD_OFFSETS`]: crate::limits::PRODUCER_STATE_REBUILD_OFFSETS
    async fn rebuild_producer_state(&self) -> Result<(), StorageError> {
        let end = self.log.high_watermark();
        let mut offset = self
            .log
            .log_start_offset()
            .max(end - crate::limits::PRODUCER_STATE_REBUILD_OFFSETS);
        while offset < end {
            let read = self
                .log
                .read(offset, crate::limits::PRODUCER_STATE_READ_BYTES)
                .await?;
            if read.batches.is_empty() {
                break;
            }
            let mut table = self.producers.borrow_mut();
            for chunk in &read.batches {
                for header in headers(chunk) {
                    if header.producer_id != NO_PRODUCER_ID && header.record_count > 0 {
                        table.record(
                            header.producer_id,
                            header.producer_epoch,
                            BatchRecord {
                                first_sequence: header.base_sequence,
                                last_sequence: last_sequence(
                                    header.base_sequence,
                                    header.record_count,
                                ),
                                base_offset: header.base_offset,
                                last_offset: header.last_offset(),
                                generation: self.log.generation(),
                            },
                        );
                    }
                    offset = offset.max(header.last_offset() + 1);
                }
            }
        }
        Ok(())
    }

    /// Appends the batches of one Produce partition entry, after every
    /// produce that called this before it: the append's place is taken here,
    /// synchronously, so call it in the order the appends must keep. With
    /// `durable`, the future completes only once the batches are
    /// acknowledged under the fsync policy.
    pub fn produce(
        self: &Rc<Self>,
        records: Bytes,
        durable: bool,
    ) -> impl Future<Output = Result<Appended, ErrorCode>> + 'static {
        let ticket = self.appends.ticket();
        let partition = self.clone();
        async move { partition.append_in_turn(ticket, records, durable).await }
    }

    async fn append_in_turn(
        &self,
        ticket: Ticket,
        records: Bytes,
        durable: bool,
    ) -> Result<Appended, ErrorCode> {
        crate::delays::at(crate::delays::Point::AppendBeforeTurn).await;
        let headers = match check_batches(&records, self.batch_bytes_max) {
            Ok(h) => h,
            Err(code) => return Err(code),
        };
        // Idempotence is decided on the first batch; clients send one batch
        // per partition, and the rest must continue its sequence.
        let first = headers[0];
        let idempotent = first.producer_id != NO_PRODUCER_ID;
        let turn = ticket.turn().await;
        self.forget_discarded();
        if idempotent {
            let last = headers[headers.len() - 1];
            let decision = check_chain(&headers).map(|()| {
                self.producers.borrow().check(
                    first.producer_id,
                    first.producer_epoch,
                    first.base_sequence,
                    last_sequence(last.base_sequence, last.record_count),
                )
            })?;
            match decision {
                SequenceCheck::Append => {}
                SequenceCheck::Duplicate {
                    base_offset,
                    last_offset,
                } => {
                    drop(turn);
                    // A retry: answer with the original offsets, once they
                    // are durable.
                    if durable {
                        self.wait_acknowledged(last_offset).await?;
                    }
                    return Ok(Appended {
                        base_offset,
                        log_start_offset: self.log.log_start_offset(),
                    });
                }
                SequenceCheck::OutOfOrder { expected, got } => {
                    tracing::debug!(
                        topic = %self.topic,
                        partition = self.index,
                        producer_id = first.producer_id,
                        expected,
                        got,
                        "out-of-order sequence"
                    );
                    return Err(ErrorCode::OutOfOrderSequenceNumber);
                }
                SequenceCheck::Fenced { .. } => return Err(ErrorCode::InvalidProducerEpoch),
            }
        }

        if !idempotent && test_fault_drops_this_write() {
            drop(turn);
            return Ok(Appended {
                base_offset: self.log.high_watermark(),
                log_start_offset: self.log.log_start_offset(),
            });
        }
        let records = records
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        // `check_batches` verified every batch's CRC above; computing it a
        // second time in the log cost ~10% of a produce's CPU.
        let info = self
            .log
            .append_crc_verified(records, self.leader_epoch.get())
            .await
            .map_err(|e| {
            tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "append failed");
            storage_error_code(&e)
        })?;
        if idempotent {
            // Recorded when the offsets are assigned, before any await, so a
            // pipelined next batch of the same producer sees it.
            let mut base = info.base_offset;
            let mut table = self.producers.borrow_mut();
            for h in &headers {
                let count = (h.last_offset_delta as i64) + 1;
                table.record(
                    h.producer_id,
                    h.producer_epoch,
                    BatchRecord {
                        first_sequence: h.base_sequence,
                        last_sequence: last_sequence(h.base_sequence, h.record_count),
                        base_offset: base,
                        last_offset: base + count - 1,
                        generation: info.generation,
                    },
                );
                base += count;
            }
        }
        drop(turn);
        if durable {
            if let Err(e) = self.log.wait_durable(&info).await {
                if matches!(e, StorageError::DiskFull) {
                    // The log reports a full disk once per episode.
                    tracing::debug!(topic = %self.topic, partition = self.index, "append discarded: disk full");
                } else {
                    tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "append not made durable");
                }
                // A discarded append leaves the producer table through
                // `forget_discarded`, at the next append's turn.
                return Err(storage_error_code(&e));
            }
        }
        Ok(Appended {
            base_offset: info.base_offset,
            log_start_offset: self.log.log_start_offset(),
        })
    }

    /// After the log discarded appends (a full disk rolls back what it could
    /// not write), forgets them in the producer table: a retry of a
    /// discarded batch must be appended again, not answered with offsets
    /// that later appends reused. Runs in the append's turn, so every
    /// sequence check sees the log as it is. Cheap unless the log's rollback
    /// generation moved.
    fn forget_discarded(&self) {
        let generation = self.log.generation();
        if generation == self.producers_generation.get() {
            return;
        }
        self.producers.borrow_mut().forget_discarded(|batch| {
            self.log
                .discarded_since(batch.generation, batch.last_offset)
        });
        self.producers_generation.set(generation);
    }

    async fn wait_acknowledged(&self, last_offset: i64) -> Result<(), ErrorCode> {
        while self.high_watermark() <= last_offset {
            self.wait_for_data(self.high_watermark())
                .await
                .map_err(|e| storage_error_code(&e))?;
        }
        Ok(())
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.get()
    }

    /// Takes the leader epoch the controller gave the partition. Epochs
    /// never go back.
    pub fn set_leader_epoch(&self, epoch: i32) {
        assert!(epoch >= self.leader_epoch.get(), "leader epoch went back");
        self.leader_epoch.set(epoch);
    }

    /// The visible end: offsets below it may be read. On a single node it
    /// is the log's durable end (acknowledged data only).
    pub fn high_watermark(&self) -> i64 {
        self.log.high_watermark()
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log.log_start_offset()
    }

    /// Whole batches from the one holding `offset`, about `max_bytes` of
    /// them (at least one), none at or past the high watermark.
    pub async fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, StorageError> {
        let read = self.log.read(offset, max_bytes).await?;
        debug_assert!(read.high_watermark <= self.high_watermark());
        Ok(read)
    }

    /// Completes once the high watermark is past `offset` (returns it).
    pub async fn wait_for_data(&self, offset: i64) -> Result<i64, StorageError> {
        self.log.wait_for_data(offset).await
    }

    /// The first offset whose batch holds a timestamp at or after
    /// `timestamp`, with that batch's largest timestamp.
    pub async fn offset_for_timestamp(
        &self,
        timestamp: i64,
    ) -> Result<Option<(i64, i64)>, StorageError> {
        self.log.offset_for_timestamp(timestamp).await
    }

    pub async fn apply_retention(&self, now_ms: i64) -> Result<RetentionReport, StorageError> {
        self.log.apply_retention(now_ms).await
    }

    /// Syncs and closes the log.
    pub async fn close(&self) -> Result<(), StorageError> {
        self.log.close().await
    }

    /// Deletes the log and its files.
    pub async fn delete(&self) -> Result<(), StorageError> {
        self.log.clone().delete().await
    }
}

/// A deliberately broken broker, for validating `sluice-check` and never
/// for anything else: with `SLUICE_TEST_FAULT=lose-acked-writes` in the
/// environment, one in [`TEST_FAULT_DROP_ONE_IN`] non-idempotent produces
/// per shard is acknowledged without being appended. The variable is read
/// once, by the first call: bootstrap makes that call at start-up, so the
/// warning is among the first lines of the broker's log.
pub fn test_fault_drops_this_write() -> bool {
    static LOSE_ACKED_WRITES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    thread_local!(static PRODUCES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
    let on = *LOSE_ACKED_WRITES.get_or_init(|| {
        let on = std::env::var("SLUICE_TEST_FAULT").is_ok_and(|v| v == "lose-acked-writes");
        if on {
            tracing::warn!(
                "SLUICE_TEST_FAULT=lose-acked-writes: THIS BROKER ACKNOWLEDGES WRITES AND DROPS \
                 THEM (one in {TEST_FAULT_DROP_ONE_IN}); it exists to test sluice-check, never run it \
                 with data you need"
            );
        }
        on
    });
    on && PRODUCES.with(|n| {
        n.set(n.get() + 1);
        n.get() % TEST_FAULT_DROP_ONE_IN == 0
    })
}

/// How often the test fault drops a write: often enough that a ten-second
/// `sluice-check` run sees dozens, rarely enough that most writes land.
const TEST_FAULT_DROP_ONE_IN: u64 = 20;

/// Batches after the first in one entry must come from the same producer
/// and continue its sequence.
fn check_chain(headers: &[BatchHeader]) -> Result<(), ErrorCode> {
    let first = headers[0];
    let mut next = None;
    for h in headers {
        if h.producer_id != first.producer_id || h.producer_epoch != first.producer_epoch {
            return Err(ErrorCode::InvalidRecord);
        }
        if next.is_some_and(|n| n != h.base_sequence) {
            return Err(ErrorCode::OutOfOrderSequenceNumber);
        }
        next = Some(last_sequence(h.base_sequence, h.record_count).wrapping_add(1));
    }
    Ok(())
}

/// Validates a Produce entry's record set with `net`'s rules for produced
/// batches (whole magic-2 batches, CRC, codec, producer fields, no control
/// batches) plus this broker's limits. Transactions are not supported.
fn check_batches(records: &Bytes, batch_bytes_max: usize) -> Result<Vec<BatchHeader>, ErrorCode> {
    if records.is_empty() {
        return Err(ErrorCode::CorruptMessage);
    }
    let mut out = Vec::new();
    for batch in net::records::batches(records) {
        let batch = batch.map_err(|e| e.error_code())?;
        if batch.bytes.len() > batch_bytes_max {
            return Err(ErrorCode::MessageTooLarge);
        }
        net::records::validate_produced(&batch).map_err(|e| e.error_code())?;
        if batch.header.is_transactional() {
            return Err(ErrorCode::UnsupportedForMessageFormat);
        }
        if out.len() >= crate::limits::BATCHES_PER_PRODUCE_PARTITION_MAX {
            return Err(ErrorCode::RecordListTooLarge);
        }
        out.push(batch.header);
    }
    Ok(out)
}

/// The headers of the whole batches in `chunk` (as stored by the log).
fn headers(chunk: &[u8]) -> impl Iterator<Item = BatchHeader> + '_ {
    let mut rest = chunk;
    std::iter::from_fn(move || {
        let (header, _, tail) = split_batch(rest).ok()?;
        rest = tail;
        Some(header)
    })
}
