//! Behaviour of the public API beyond appending and reading back: bounds
//! and errors, the cache, long polls, rolling, truncation, retention, the
//! interval fsync policy.

use std::rc::Rc;
use std::time::Duration;

use bytes::BytesMut;
use futures_lite::future;
use storage::batch::split_batch;
use storage::io::mem::MemDirectory;
use storage::testing::{make_batch, run_local};
use storage::{FsyncPolicy, Log, LogConfig, ShardStorage, ShardStorageConfig, StorageError};

async fn open_with(dir: &MemDirectory, cfg: LogConfig, cache_bytes_max: usize) -> Log {
    let shard = ShardStorage::new(ShardStorageConfig { cache_bytes_max });
    Log::open_in(Rc::new(dir.clone()), cfg, &shard)
        .await
        .expect("open")
        .0
}

fn small() -> LogConfig {
    LogConfig {
        segment_bytes_max: 64 * 1024,
        ..LogConfig::default()
    }
}

async fn put(log: &Log, records: i32, payload: usize, ts: i64) -> storage::AppendInfo {
    let b = make_batch(records, payload, ts, ts as u64);
    log.append_durable(BytesMut::from(&b[..]), 1).await.unwrap()
}

fn offsets(r: &storage::ReadResult) -> Vec<i64> {
    let mut out = Vec::new();
    for bytes in &r.batches {
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let (h, _, tail) = split_batch(rest).unwrap();
            out.push(h.base_offset);
            rest = tail;
        }
    }
    out
}

#[test]
fn read_bounds_budget_and_errors() {
    run_local(async {
        let log = open_with(&MemDirectory::new(), small(), 1 << 20).await;
        for i in 0..10 {
            put(&log, 3, 1000, i).await;
        }
        // Budget: whole batches only, at least one.
        let one = 1000 + storage::batch::HEADER_BYTES;
        assert_eq!(offsets(&log.read(0, 1).await.unwrap()), vec![0]);
        assert_eq!(offsets(&log.read(0, 2 * one).await.unwrap()), vec![0, 3]);
        assert_eq!(offsets(&log.read(0, 2 * one - 1).await.unwrap()), vec![0]);
        // An offset inside a batch returns the batch that holds it.
        assert_eq!(offsets(&log.read(4, 1).await.unwrap()), vec![3]);
        // At the high watermark: nothing yet. Past the end: an error.
        let r = log.read(30, 1000).await.unwrap();
        assert!(r.batches.is_empty());
        assert_eq!(r.high_watermark, 30);
        assert!(matches!(
            log.read(31, 1000).await,
            Err(StorageError::OffsetOutOfRange {
                offset: 31,
                log_start_offset: 0,
                log_end_offset: 30
            })
        ));
        assert!(matches!(
            log.read(-1, 1000).await,
            Err(StorageError::OffsetOutOfRange { .. })
        ));
        log.close().await.unwrap();
    });
}

#[test]
fn tail_reads_come_from_the_cache_and_old_ones_from_disk() {
    run_local(async {
        let log = open_with(&MemDirectory::new(), small(), 64 * 1024).await;
        for i in 0..100 {
            put(&log, 1, 2000, i).await;
        }
        let tail = log.read(99, 10_000).await.unwrap();
        assert!(tail.from_cache);
        assert_eq!(offsets(&tail), vec![99]);
        let old = log.read(0, 10_000).await.unwrap();
        assert!(!old.from_cache, "evicted from a 64 KiB cache");
        let cached = log.read(95, 1 << 20).await.unwrap();
        assert!(cached.from_cache);
        assert_eq!(offsets(&cached), vec![95, 96, 97, 98, 99]);
        // Not yet durable data is never served, even though it is cached.
        let b = make_batch(1, 10, 7, 7);
        log.append(BytesMut::from(&b[..]), 1).await.unwrap();
        assert_eq!(offsets(&log.read(99, 1 << 20).await.unwrap()), vec![99]);
        log.close().await.unwrap();
    });
}

#[test]
fn cache_and_disk_return_the_same_bytes() {
    run_local(async {
        let dir = MemDirectory::new();
        let log = open_with(&dir, small(), 1 << 20).await;
        for i in 0..20 {
            put(&log, 2, 700, i).await;
        }
        let hot = log.read(10, 1 << 20).await.unwrap();
        assert!(hot.from_cache);
        log.close().await.unwrap();
        let log = open_with(&dir, small(), 1 << 20).await;
        let cold = log.read(10, 1 << 20).await.unwrap();
        assert!(!cold.from_cache);
        assert_eq!(hot.batches.concat(), cold.batches.concat());
        log.close().await.unwrap();
    });
}

#[test]
fn long_poll_wakes_on_new_durable_data() {
    run_local(async {
        let log = open_with(&MemDirectory::new(), small(), 1 << 20).await;
        put(&log, 1, 10, 1).await;
        let waiter = {
            let log = log.clone();
            glommio::spawn_local(async move { log.wait_for_data(1).await })
        };
        glommio::timer::sleep(Duration::from_millis(5)).await;
        let b = make_batch(1, 10, 2, 2);
        log.append_durable(BytesMut::from(&b[..]), 1).await.unwrap();
        assert_eq!(waiter.await.unwrap(), 2);
        // A poll with nothing new times out at the caller's bound.
        let timed_out = future::or(async { Some(log.wait_for_data(2).await) }, async {
            glommio::timer::sleep(Duration::from_millis(5)).await;
            None
        })
        .await;
        assert!(timed_out.is_none());
        log.close().await.unwrap();
        assert!(matches!(
            log.wait_for_data(2).await,
            Err(StorageError::Closed)
        ));
    });
}

#[test]
fn segments_roll_by_size_and_by_age() {
    run_local(async {
        let dir = MemDirectory::new();
        let cfg = LogConfig {
            segment_age_ms: 20,
            ..small()
        };
        let log = open_with(&dir, cfg, 1 << 20).await;
        put(&log, 1, 100, 1).await;
        put(&log, 1, 100, 2).await;
        assert_eq!(log.segment_count(), 1);
        glommio::timer::sleep(Duration::from_millis(30)).await;
        put(&log, 1, 100, 3).await;
        assert_eq!(log.segment_count(), 2, "rolled by age");
        for i in 0..40 {
            put(&log, 1, 3000, 10 + i).await;
        }
        assert!(log.segment_count() >= 3, "rolled by size");
        let segs = dir
            .file_names()
            .into_iter()
            .filter(|n| n.ends_with(".log"))
            .count();
        assert_eq!(segs, log.segment_count());
        log.close().await.unwrap();
    });
}

#[test]
fn truncate_rules() {
    run_local(async {
        let dir = MemDirectory::new();
        let log = open_with(&dir, small(), 1 << 20).await;
        for i in 0..60 {
            put(&log, 2, 2000, i).await;
        }
        assert!(matches!(
            log.truncate(5).await,
            Err(StorageError::NotBatchBoundary(5))
        ));
        assert!(matches!(
            log.truncate(121).await,
            Err(StorageError::OffsetOutOfRange { .. })
        ));
        let segments_before = log.segment_count();
        log.truncate(40).await.unwrap();
        assert_eq!(log.log_end_offset(), 40);
        assert!(log.segment_count() < segments_before);
        // Appends continue at the cut with the new term; stale cached data
        // is gone.
        let b = make_batch(1, 10, 500, 9);
        let info = log.append_durable(BytesMut::from(&b[..]), 2).await.unwrap();
        assert_eq!(info.base_offset, 40);
        let r = log.read(40, 1 << 20).await.unwrap();
        assert_eq!(r.total_bytes(), b.len());
        log.close().await.unwrap();
        let log = open_with(&dir, small(), 1 << 20).await;
        assert_eq!(log.log_end_offset(), 41);
        log.truncate(0).await.unwrap();
        assert_eq!(log.log_end_offset(), 0);
        assert_eq!(log.segment_count(), 1);
        log.close().await.unwrap();
    });
}

#[test]
fn retention_by_size_and_by_age() {
    run_local(async {
        let dir = MemDirectory::new();
        let cfg = LogConfig {
            retention_bytes: 100 * 1024,
            retention_ms: 1_000,
            ..small()
        };
        let log = open_with(&dir, cfg, 1 << 20).await;
        for i in 0..150 {
            put(&log, 1, 2000, 10_000 + i).await;
        }
        let before = log.size_bytes();
        let report = log.apply_retention(0).await.unwrap();
        assert!(report.segments_deleted > 0);
        assert!(log.size_bytes() >= 100 * 1024);
        assert!(log.size_bytes() - 64 * 1024 < 100 * 1024);
        assert_eq!(before - report.bytes_deleted, log.size_bytes());
        assert_eq!(report.log_start_offset, log.log_start_offset());
        assert!(matches!(
            log.read(0, 1).await,
            Err(StorageError::OffsetOutOfRange { .. })
        ));
        assert!(!log
            .read(log.log_start_offset(), 1)
            .await
            .unwrap()
            .batches
            .is_empty());
        // By age: everything older than a second before "now" except the
        // active segment.
        let report = log.apply_retention(10_000 + 150 + 1_000 + 1).await.unwrap();
        assert!(report.segments_deleted > 0);
        assert_eq!(log.segment_count(), 1);
        log.close().await.unwrap();
        let log = open_with(&dir, small(), 1 << 20).await;
        assert_eq!(log.log_start_offset(), report.log_start_offset);
        log.close().await.unwrap();
    });
}

#[test]
fn segments_below_an_offset_are_deleted_whole_and_stay_deleted() {
    run_local(async {
        let dir = MemDirectory::new();
        let log = open_with(&dir, small(), 1 << 20).await;
        for i in 0..150 {
            put(&log, 1, 2000, 10_000 + i).await;
        }
        let segments = log.segment_count();
        assert!(segments > 3, "the test needs several segments");
        // Nothing is deleted below the first segment's end.
        let report = log.delete_segments_below(1).await.unwrap();
        assert_eq!(report.segments_deleted, 0);
        assert_eq!(log.log_start_offset(), 0);
        let report = log.delete_segments_below(100).await.unwrap();
        assert!(report.segments_deleted > 0);
        let start = log.log_start_offset();
        assert!(start > 0 && start <= 100, "start {start}");
        assert_eq!(report.log_start_offset, start);
        assert_eq!(log.segment_count(), segments - report.segments_deleted);
        // Offset 100 and everything after it are still there.
        let read = log.read(100, 1 << 20).await.unwrap();
        assert!(!read.batches.is_empty());
        assert!(matches!(
            log.read(start - 1, 1).await,
            Err(StorageError::OffsetOutOfRange { .. })
        ));
        // Past the end: never the active segment.
        log.delete_segments_below(i64::MAX).await.unwrap();
        assert_eq!(log.segment_count(), 1);
        let start = log.log_start_offset();
        log.close().await.unwrap();
        let log = open_with(&dir, small(), 1 << 20).await;
        assert_eq!(log.log_start_offset(), start);
        log.close().await.unwrap();
    });
}

#[test]
fn interval_policy_syncs_on_its_timer() {
    run_local(async {
        let dir = MemDirectory::new();
        let cfg = LogConfig {
            fsync: FsyncPolicy::Interval {
                ms: 20,
                bytes: 1 << 30,
            },
            ..small()
        };
        let log = open_with(&dir, cfg, 1 << 20).await;
        let info = put(&log, 1, 100, 1).await; // acknowledged once written
        assert_eq!(log.high_watermark(), 1);
        assert_eq!(log.durable_offset(), 0, "not synced yet");
        glommio::timer::sleep(Duration::from_millis(40)).await;
        assert_eq!(log.durable_offset(), info.last_offset + 1);
        log.close().await.unwrap();
    });
}

#[test]
fn invalid_configs_are_rejected() {
    run_local(async {
        for cfg in [
            LogConfig {
                segment_bytes_max: 1000,
                ..LogConfig::default()
            },
            LogConfig {
                index_interval_bytes: 10,
                ..LogConfig::default()
            },
            LogConfig {
                retention_ms: -5,
                ..LogConfig::default()
            },
        ] {
            let shard = ShardStorage::new(ShardStorageConfig::default());
            let r = Log::open_in(Rc::new(MemDirectory::new()), cfg, &shard).await;
            assert!(matches!(r, Err(StorageError::InvalidConfig(_))));
        }
    });
}

#[test]
fn cache_budget_is_shared_and_released() {
    run_local(async {
        let shard = ShardStorage::new(ShardStorageConfig {
            cache_bytes_max: 100 * 1024,
        });
        let mut logs = Vec::new();
        for _ in 0..3 {
            let dir = MemDirectory::new();
            logs.push(Log::open_in(Rc::new(dir), small(), &shard).await.unwrap().0);
        }
        for i in 0..60 {
            put(&logs[i % 3], 1, 3000, i as i64).await;
            assert!(shard.cache_bytes() <= 100 * 1024);
        }
        assert!(shard.cache_bytes() > 80 * 1024);
        logs[0].truncate(0).await.unwrap();
        let after_truncate = shard.cache_bytes();
        assert!(after_truncate < 80 * 1024);
        logs[1].close().await.unwrap();
        drop(logs.remove(2)); // dropped without close
        assert_eq!(shard.cache_bytes(), 0);
    });
}

#[test]
fn prechecked_appends_skip_only_the_crc() {
    run_local(async {
        let dir = MemDirectory::new();
        let log = open_with(&dir, small(), 1 << 20).await;
        let good = make_batch(2, 100, 1, 1);
        let info = log
            .append_crc_verified(BytesMut::from(&good[..]), 3)
            .await
            .unwrap();
        assert_eq!((info.base_offset, info.last_offset), (0, 1));
        // Headers are still checked.
        let err = log
            .append_crc_verified(BytesMut::from(&good[..40]), 3)
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::Corrupt(_)));
        log.wait_durable(&info).await.unwrap();
        log.close().await.unwrap();
    });
}
