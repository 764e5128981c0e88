//! The partitions a shard owns: each one's storage log and idempotent-producer
//! state, and the operations the request handlers run on the owner shard
//! (append with sequence checks, read, lookups). Only the owner shard ever
//! touches a `Partition`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use net::ErrorCode;
use storage::batch::{split_batch, BatchHeader};
use storage::{Log, LogConfig, StorageError};

use crate::catalogue::TopicMeta;
use crate::config::{Config, FsyncPolicy};
use crate::producer::{last_sequence, BatchRecord, ProducerTable, SequenceCheck, NO_PRODUCER_ID};
use crate::shard::Shard;

/// The leader epoch stamped into batches. A single node never changes
/// leader; Raft terms take this place later.
pub const LEADER_EPOCH: i32 = 0;

pub struct Partition {
    pub topic: String,
    pub index: i32,
    pub log: Log,
    /// Largest batch accepted: the broker's limit, or the topic's
    /// `max.message.bytes` if lower.
    batch_bytes_max: usize,
    producers: RefCell<ProducerTable>,
    /// Held from the sequence check until the log has assigned offsets, so
    /// that pipelined batches of one producer are checked in order against
    /// state that includes their predecessors. Not held while waiting for
    /// durability, so group commit still gathers many appends per sync.
    append_gate: glommio::sync::Semaphore,
}

/// The partitions one shard owns, plus the shard's storage context.
#[derive(Default)]
pub struct Partitions {
    /// Topic name → partition index → partition. Two levels so that a
    /// lookup by `&str` needs no allocation on the produce/fetch path.
    map: RefCell<HashMap<String, BTreeMap<i32, Rc<Partition>>>>,
    storage: RefCell<Option<Rc<storage::ShardStorage>>>,
}

impl Partitions {
    pub fn get(&self, topic: &str, index: i32) -> Option<Rc<Partition>> {
        self.map.borrow().get(topic)?.get(&index).cloned()
    }

    fn insert(&self, partition: Rc<Partition>) {
        self.map
            .borrow_mut()
            .entry(partition.topic.clone())
            .or_default()
            .insert(partition.index, partition);
    }

    /// Every partition of the shard, in topic and index order.
    pub fn all(&self) -> Vec<Rc<Partition>> {
        self.map
            .borrow()
            .values()
            .flat_map(|m| m.values().cloned())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.map.borrow().values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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
pub fn log_config(config: &Config, meta: &TopicMeta) -> LogConfig {
    let get = |key: &str| meta.configs.get(key).and_then(|v| v.parse::<i64>().ok());
    LogConfig {
        segment_bytes_max: get("segment.bytes").map_or(config.log.segment_bytes, |v| v as u64),
        segment_age_ms: get("segment.ms").map_or(config.log.segment_ms, |v| v as u64),
        fsync: match config.log.fsync {
            FsyncPolicy::Always => storage::FsyncPolicy::Always,
            FsyncPolicy::Interval => storage::FsyncPolicy::Interval {
                ms: config.log.fsync_interval_ms,
                bytes: config.log.fsync_bytes,
            },
        },
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
        shard: &Shard,
        topic: &str,
        index: i32,
        meta: &TopicMeta,
    ) -> Result<Rc<Self>, StorageError> {
        let storage = shard
            .partitions
            .storage
            .borrow()
            .clone()
            .expect("storage context initialised");
        let dir = partition_dir(&shard.config.data_dir, topic, index);
        let (log, report) = Log::open(&dir, log_config(&shard.config, meta), &storage).await?;
        if let Some(torn) = &report.torn_tail {
            tracing::warn!(topic, partition = index, ?torn, "recovery cut a torn tail");
        }
        tracing::debug!(topic, partition = index, ?report, "partition recovered");
        let partition = Rc::new(Self {
            topic: topic.to_string(),
            index,
            log,
            batch_bytes_max: meta
                .configs
                .get("max.message.bytes")
                .and_then(|v| v.parse::<usize>().ok())
                .map_or(shard.config.server.batch_bytes_max, |topic| {
                    topic.min(shard.config.server.batch_bytes_max)
                }),
            producers: RefCell::new(ProducerTable::default()),
            append_gate: glommio::sync::Semaphore::new(1),
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
                            },
                        );
                    }
                    offset = offset.max(header.last_offset() + 1);
                }
            }
        }
        Ok(())
    }

    /// Appends the batches of one Produce partition entry. With `durable`,
    /// returns only once they are acknowledged under the fsync policy.
    pub async fn produce(&self, records: Bytes, durable: bool) -> Result<Appended, ErrorCode> {
        let headers = match check_batches(&records, self.batch_bytes_max) {
            Ok(h) => h,
            Err(code) => return Err(code),
        };
        // Idempotence is decided on the first batch; clients send one batch
        // per partition, and the rest must continue its sequence.
        let first = headers[0];
        let idempotent = first.producer_id != NO_PRODUCER_ID;
        let gate = self
            .append_gate
            .acquire_permit(1)
            .await
            .map_err(|_| ErrorCode::NotLeaderOrFollower)?;
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
                    drop(gate);
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
            drop(gate);
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
            .append_crc_verified(records, LEADER_EPOCH)
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
                    },
                );
                base += count;
            }
        }
        drop(gate);
        if durable {
            if let Err(e) = self.log.wait_durable(&info).await {
                if matches!(e, StorageError::DiskFull) {
                    // The log reports a full disk once per episode.
                    tracing::debug!(topic = %self.topic, partition = self.index, "append discarded: disk full");
                } else {
                    tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "append not made durable");
                }
                if idempotent {
                    self.producers
                        .borrow_mut()
                        .forget_last(first.producer_id, info.base_offset);
                }
                return Err(storage_error_code(&e));
            }
        }
        Ok(Appended {
            base_offset: info.base_offset,
            log_start_offset: self.log.log_start_offset(),
        })
    }

    async fn wait_acknowledged(&self, last_offset: i64) -> Result<(), ErrorCode> {
        while self.log.high_watermark() <= last_offset {
            self.log
                .wait_for_data(self.log.high_watermark())
                .await
                .map_err(|e| storage_error_code(&e))?;
        }
        Ok(())
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

/// Creates this shard's storage context and opens (recovering) every
/// partition in the catalogue that this shard owns.
pub async fn open_owned(shard: &Rc<Shard>) -> Result<usize, StorageError> {
    let tuning = shard.config.shards[shard.id].clone();
    *shard.partitions.storage.borrow_mut() =
        Some(storage::ShardStorage::new(storage::ShardStorageConfig {
            cache_bytes_max: tuning.cache_bytes as usize,
        }));
    let owned: Vec<(String, i32, TopicMeta)> = {
        let catalogue = shard.catalogue.borrow();
        catalogue
            .topics
            .iter()
            .flat_map(|(name, meta)| {
                (0..meta.partitions).map(move |p| (name.clone(), p, meta.clone()))
            })
            .filter(|(name, p, _)| shard.placement.shard_for(name, *p) == shard.id)
            .collect()
    };
    let count = owned.len();
    for (topic, index, meta) in owned {
        open_one(shard, &topic, index, &meta).await?;
    }
    Ok(count)
}

/// Opens one partition this shard owns and registers it.
pub async fn open_one(
    shard: &Rc<Shard>,
    topic: &str,
    index: i32,
    meta: &TopicMeta,
) -> Result<(), StorageError> {
    debug_assert_eq!(shard.placement.shard_for(topic, index), shard.id);
    if shard.partitions.get(topic, index).is_some() {
        return Ok(());
    }
    let partition = Partition::open(shard, topic, index, meta).await?;
    shard.partitions.insert(partition);
    Ok(())
}

/// Removes a deleted topic's partitions on this shard, files included.
pub async fn delete_topic(shard: &Rc<Shard>, topic: &str) -> Result<(), StorageError> {
    let doomed: Vec<Rc<Partition>> = shard
        .partitions
        .map
        .borrow_mut()
        .remove(topic)
        .map(|m| m.into_values().collect())
        .unwrap_or_default();
    for partition in doomed {
        partition.log.clone().delete().await?;
    }
    Ok(())
}

/// Syncs and closes every partition of the shard.
pub async fn close_all(shard: &Rc<Shard>) -> Result<(), StorageError> {
    let all: Vec<Rc<Partition>> = shard
        .partitions
        .map
        .borrow_mut()
        .drain()
        .flat_map(|(_, m)| m.into_values())
        .collect();
    let mut first_error = None;
    for partition in all {
        if let Err(e) = partition.log.close().await {
            tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "close failed");
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Applies retention to every partition of the shard, forever (a background
/// task; storage never blocks appends while it runs).
pub async fn retention_loop(shard: Rc<Shard>) {
    loop {
        glommio::timer::sleep(std::time::Duration::from_millis(
            crate::limits::RETENTION_CHECK_MS,
        ))
        .await;
        let all = shard.partitions.all();
        let now_ms = crate::handlers::now_ms();
        for partition in all {
            match partition.log.apply_retention(now_ms).await {
                Ok(report) => {
                    tracing::debug!(topic = %partition.topic, partition = partition.index, ?report, "retention")
                }
                Err(e) => {
                    tracing::warn!(topic = %partition.topic, partition = partition.index, error = %e, "retention failed")
                }
            }
        }
    }
}
