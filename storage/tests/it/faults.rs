//! Injected faults and corruption against the in-memory backend: torn
//! tails, a full disk, failed writes and syncs, flipped bytes in segments
//! and indexes. Each outcome is the one DESIGN.md promises.

use std::rc::Rc;

use bytes::BytesMut;
use storage::batch::{split_batch, BatchError};
use storage::format::segment::{file_name, FileKind};
use storage::io::mem::{Fault, MemDirectory};
use storage::testing::{make_batch, run_local};
use storage::{
    AppendInfo, FsyncPolicy, Log, LogConfig, ShardStorage, ShardStorageConfig, StorageError,
};

fn config(fsync: FsyncPolicy) -> LogConfig {
    LogConfig {
        segment_bytes_max: 64 * 1024,
        fsync,
        ..LogConfig::default()
    }
}

const NO_SYNC: FsyncPolicy = FsyncPolicy::Interval {
    ms: 3_600_000,
    bytes: u64::MAX / 2,
};

async fn open(dir: &MemDirectory, cfg: &LogConfig) -> (Log, storage::RecoveryReport) {
    let shard = ShardStorage::new(ShardStorageConfig::default());
    Log::open_in(Rc::new(dir.clone()), cfg.clone(), &shard)
        .await
        .expect("open")
}

async fn append(log: &Log, records: i32, payload: usize, ts: i64) -> AppendInfo {
    let b = make_batch(records, payload, ts, ts as u64);
    log.append(BytesMut::from(&b[..]), 1).await.expect("append")
}

/// Reads every readable batch; returns (base offset, bytes) in order.
async fn read_everything(log: &Log) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.high_watermark() {
        let r = log.read(offset, 1 << 20).await.expect("read");
        for bytes in &r.batches {
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let (h, batch, tail) = split_batch(rest).unwrap();
                assert_eq!(h.base_offset, offset);
                out.push((h.base_offset, batch.to_vec()));
                offset = h.last_offset() + 1;
                rest = tail;
            }
        }
    }
    out
}

async fn settle() {
    for _ in 0..4 {
        futures_lite::future::yield_now().await;
    }
}

#[test]
fn torn_unsynced_tail_is_cut_and_synced_data_kept() {
    run_local(async {
        let cfg = config(NO_SYNC);
        let mut torn_reports = 0;
        let mut partial = 0;
        for seed in 0..40u64 {
            let dir = MemDirectory::new();
            let (log, _) = open(&dir, &cfg).await;
            for i in 0..5 {
                append(&log, 2, 700, 100 + i).await;
            }
            log.sync().await.unwrap();
            let durable = log.durable_offset();
            assert_eq!(durable, 10);
            for i in 0..6 {
                append(&log, 2, 1500, 200 + i).await;
                settle().await; // each append becomes its own unsynced write
            }
            assert_eq!(log.high_watermark(), 22, "written, not synced");
            drop(log);
            dir.crash(seed);
            let (log, report) = open(&dir, &cfg).await;
            let end = log.log_end_offset();
            assert!(end >= durable, "seed {seed}: lost synced data");
            assert_eq!(end % 2, 0, "seed {seed}: cut inside a batch");
            if end < 22 {
                partial += 1;
            }
            if report.torn_tail.is_some() {
                torn_reports += 1;
            }
            let batches = read_everything(&log).await;
            assert_eq!(batches.len() as i64, end / 2);
            // Appending after recovery continues the offsets cleanly.
            let info = append(&log, 1, 10, 999).await;
            assert_eq!(info.base_offset, end);
            log.close().await.unwrap();
        }
        assert!(
            partial > 0,
            "no crash lost anything: the model is not exercised"
        );
        assert!(torn_reports > 0, "no crash tore a batch");
    });
}

#[test]
fn disk_full_fails_appends_cleanly_and_log_recovers() {
    run_local(async {
        let dir = MemDirectory::new();
        let cfg = config(FsyncPolicy::Always);
        let (log, _) = open(&dir, &cfg).await;
        let mut acked = 0;
        for i in 0..10 {
            let b = make_batch(1, 2000, i, i as u64);
            log.append_durable(BytesMut::from(&b[..]), 1).await.unwrap();
            acked += 1;
        }
        dir.set_capacity_bytes(Some(40 * 1024));
        let mut failures = 0;
        for i in 0..20 {
            let b = make_batch(1, 2000, 100 + i, i as u64);
            match log.append_durable(BytesMut::from(&b[..]), 1).await {
                Ok(_) => acked += 1,
                Err(StorageError::DiskFull) => failures += 1,
                Err(e) => panic!("unexpected error {e}"),
            }
        }
        assert!(failures > 0);
        assert_eq!(log.high_watermark(), acked);
        assert_eq!(
            log.log_end_offset(),
            acked,
            "discarded appends are rolled back"
        );
        assert_eq!(read_everything(&log).await.len() as i64, acked);
        // Space comes back: appends continue at the next offset.
        dir.set_capacity_bytes(None);
        let b = make_batch(1, 2000, 500, 5);
        let info = log.append_durable(BytesMut::from(&b[..]), 1).await.unwrap();
        assert_eq!(info.base_offset, acked);
        drop(log);
        dir.crash(7);
        let (log, report) = open(&dir, &cfg).await;
        assert_eq!(report.log_end_offset, acked + 1);
        assert_eq!(read_everything(&log).await.len() as i64, acked + 1);
        log.close().await.unwrap();
    });
}

#[test]
fn failed_sync_fails_the_log_and_recovery_keeps_synced_data() {
    run_local(async {
        let dir = MemDirectory::new();
        let cfg = config(FsyncPolicy::Always);
        let (log, _) = open(&dir, &cfg).await;
        let b = make_batch(3, 500, 1, 1);
        log.append_durable(BytesMut::from(&b[..]), 1).await.unwrap();
        dir.inject(Fault::FailSync(libc::EIO));
        let err = log
            .append_durable(BytesMut::from(&b[..]), 1)
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::Failed(_)), "{err}");
        assert_eq!(
            log.high_watermark(),
            3,
            "the failed sync acknowledged nothing"
        );
        let err = log.append(BytesMut::from(&b[..]), 1).await.unwrap_err();
        assert!(matches!(err, StorageError::Failed(_)));
        // Still readable.
        assert_eq!(read_everything(&log).await.len(), 1);
        drop(log);
        let (log, report) = open(&dir, &cfg).await;
        assert_eq!(report.log_end_offset, 3);
        log.close().await.unwrap();
    });
}

#[test]
fn failed_write_fails_the_log() {
    run_local(async {
        let dir = MemDirectory::new();
        let (log, _) = open(&dir, &config(FsyncPolicy::Always)).await;
        dir.inject(Fault::FailWrite(libc::EIO));
        let b = make_batch(1, 100, 1, 1);
        let err = log
            .append_durable(BytesMut::from(&b[..]), 1)
            .await
            .unwrap_err();
        match err {
            StorageError::Failed(inner) => {
                assert!(matches!(*inner, StorageError::Io { .. }), "{inner}")
            }
            e => panic!("unexpected {e}"),
        }
        assert_eq!(log.high_watermark(), 0);
        assert!(matches!(log.close().await, Err(StorageError::Failed(_))));
    });
}

#[test]
fn bad_batches_are_rejected_before_anything_is_appended() {
    run_local(async {
        let dir = MemDirectory::new();
        let (log, _) = open(&dir, &config(FsyncPolicy::Always)).await;
        let good = make_batch(2, 100, 1, 1);
        let mut bad = make_batch(2, 100, 1, 2);
        let last = bad.len() - 1;
        bad[last] ^= 0x40;
        let mut both = good.clone();
        both.extend_from_slice(&bad);
        let err = log.append(BytesMut::from(&both[..]), 1).await.unwrap_err();
        assert!(err.is_crc_mismatch(), "{err}");
        let err = log
            .append(BytesMut::from(&good[..50]), 1)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StorageError::Corrupt(BatchError::Truncated { .. })
        ));
        let err = log.append(BytesMut::new(), 1).await.unwrap_err();
        assert!(matches!(err, StorageError::EmptyAppend));
        assert_eq!(log.log_end_offset(), 0);
        let info = log
            .append_durable(BytesMut::from(&good[..]), 1)
            .await
            .unwrap();
        assert_eq!(info.base_offset, 0);
        log.close().await.unwrap();
    });
}

/// Fills a log over several segments and closes it cleanly.
async fn filled_log(dir: &MemDirectory, cfg: &LogConfig) -> Vec<(i64, Vec<u8>)> {
    let (log, _) = open(dir, cfg).await;
    for i in 0..120 {
        let b = make_batch(2, 1500, 1_000 + i, i as u64);
        log.append(BytesMut::from(&b[..]), 4).await.unwrap();
    }
    log.sync().await.unwrap();
    assert!(log.segment_count() >= 3);
    let all = read_everything(&log).await;
    log.close().await.unwrap();
    all
}

#[test]
fn flipped_byte_in_sealed_segment_is_detected_on_read() {
    run_local(async {
        let dir = MemDirectory::new();
        let cfg = config(FsyncPolicy::Always);
        let all = filled_log(&dir, &cfg).await;
        let name = file_name(0, FileKind::Segment);
        let mut seg = dir.contents(&name).unwrap();
        let victim = 5000; // inside some batch's records
        seg[victim] ^= 1;
        dir.set_contents(&name, seg);
        let (log, report) = open(&dir, &cfg).await;
        assert_eq!(
            report.scanned_bytes, 0,
            "sealed segments with valid indexes are trusted"
        );
        let mut detected = false;
        for (offset, _) in &all {
            match log.read(*offset, 1).await {
                Ok(_) => {}
                Err(StorageError::CorruptOnDisk {
                    segment_base_offset: 0,
                    position,
                    ..
                }) => {
                    assert!(position <= victim as u64);
                    detected = true;
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert!(detected);
        log.close().await.unwrap();
    });
}

#[test]
fn flipped_byte_in_active_segment_tail_is_cut_on_recovery() {
    run_local(async {
        let dir = MemDirectory::new();
        let cfg = config(FsyncPolicy::Always);
        let all = filled_log(&dir, &cfg).await;
        let (log, _) = open(&dir, &cfg).await;
        let active_base = log.log_end_offset() - 2 * 5;
        drop(log);
        // Remove the active segment's index checkpoint, so the whole
        // segment is rescanned, and damage its third-to-last batch.
        let names = dir.file_names();
        let seg_name = names
            .iter()
            .filter(|n| n.ends_with(".log"))
            .max()
            .unwrap()
            .clone();
        let base: i64 = seg_name.trim_end_matches(".log").parse().unwrap();
        assert!(base <= active_base);
        dir.remove(&file_name(base, FileKind::OffsetIndex));
        let mut seg = dir.contents(&seg_name).unwrap();
        let tail_batches: Vec<_> = all.iter().filter(|(o, _)| *o >= base).collect();
        assert!(tail_batches.len() >= 3);
        let cut_at = tail_batches.len() - 3;
        let pos: usize = tail_batches[..cut_at].iter().map(|(_, b)| b.len()).sum();
        seg[pos + 100] ^= 0xff;
        dir.set_contents(&seg_name, seg);
        let (log, report) = open(&dir, &cfg).await;
        let torn = report.torn_tail.expect("corruption reported");
        assert_eq!(torn.segment_base_offset, base);
        assert_eq!(torn.position, pos as u64);
        assert!(torn.reason.contains("CRC"), "{}", torn.reason);
        assert!(report.rebuilt_indexes.contains(&base));
        assert_eq!(log.log_end_offset(), tail_batches[cut_at].0);
        let kept = read_everything(&log).await;
        assert_eq!(&kept[..], &all[..all.len() - 3]);
        log.close().await.unwrap();
    });
}

#[test]
fn damaged_or_missing_indexes_are_rebuilt() {
    run_local(async {
        let dir = MemDirectory::new();
        let cfg = config(FsyncPolicy::Always);
        let all = filled_log(&dir, &cfg).await;
        let oname = file_name(0, FileKind::OffsetIndex);
        let mut idx = dir.contents(&oname).unwrap();
        let last = idx.len() - 1;
        idx[last] ^= 0x10;
        dir.set_contents(&oname, idx);
        let second = dir
            .file_names()
            .into_iter()
            .filter(|n| n.ends_with(".timeindex"))
            .nth(1)
            .unwrap();
        dir.remove(&second);
        let (log, report) = open(&dir, &cfg).await;
        assert!(report.rebuilt_indexes.contains(&0), "{report:?}");
        assert_eq!(report.rebuilt_indexes.len(), 2, "{report:?}");
        assert_eq!(read_everything(&log).await, all);
        for (offset, bytes) in all.iter().step_by(7) {
            let r = log.read(*offset, 1).await.unwrap();
            assert_eq!(&r.batches[0][..], &bytes[..]);
        }
        assert_eq!(
            log.offset_for_timestamp(1_050).await.unwrap(),
            Some((100, 1_050))
        );
        log.close().await.unwrap();
        // The rebuilt indexes were stored: the next open trusts them.
        let (log, report) = open(&dir, &cfg).await;
        assert!(report.rebuilt_indexes.is_empty(), "{report:?}");
        assert_eq!(report.scanned_bytes, 0);
        log.close().await.unwrap();
    });
}

#[test]
fn orphan_index_files_are_removed() {
    run_local(async {
        let dir = MemDirectory::new();
        let cfg = config(FsyncPolicy::Always);
        filled_log(&dir, &cfg).await;
        let orphan = file_name(999_999, FileKind::TimeIndex);
        dir.set_contents(&orphan, vec![1, 2, 3]);
        let (log, report) = open(&dir, &cfg).await;
        assert_eq!(report.removed_files, vec![orphan.clone()]);
        assert!(!dir.file_names().contains(&orphan));
        log.close().await.unwrap();
    });
}

#[test]
fn index_covering_more_than_the_segment_is_replaced() {
    run_local(async {
        let dir = MemDirectory::new();
        let cfg = config(FsyncPolicy::Always);
        let all = filled_log(&dir, &cfg).await;
        let last_seg = dir
            .file_names()
            .into_iter()
            .filter(|n| n.ends_with(".log"))
            .max()
            .unwrap();
        let mut seg = dir.contents(&last_seg).unwrap();
        let cut = seg.len() - 700; // inside the last batch
        seg.truncate(cut);
        dir.set_contents(&last_seg, seg);
        let (log, report) = open(&dir, &cfg).await;
        assert!(report.torn_tail.is_some(), "{report:?}");
        assert_eq!(read_everything(&log).await, all[..all.len() - 1]);
        drop(log); // no clean close: the index stored by recovery must be right
        let (log, report) = open(&dir, &cfg).await;
        assert_eq!(report.torn_tail, None);
        assert_eq!(report.scanned_bytes, 0, "{report:?}");
        assert_eq!(read_everything(&log).await, all[..all.len() - 1]);
        log.close().await.unwrap();
    });
}

/// Recovery after a crash reads only the active segment's bytes after its
/// last index checkpoint, never the sealed segments: a big log opens
/// without being read.
#[test]
fn crash_recovery_scans_only_after_the_checkpoint() {
    const CHECKPOINT: u64 = 8 << 20;
    const BATCH: usize = 1 << 20;
    run_local(async {
        let dir = MemDirectory::new();
        let cfg = LogConfig {
            segment_bytes_max: 2 * CHECKPOINT + (3 << 20),
            index_checkpoint_bytes: CHECKPOINT,
            ..config(FsyncPolicy::Always)
        };
        let (log, _) = open(&dir, &cfg).await;
        // Two full segments, then the active one past its first checkpoint.
        let total = 2 * cfg.segment_bytes_max + CHECKPOINT + (3 << 20);
        let batches = total as usize / BATCH;
        for i in 0..batches {
            let b = make_batch(4, BATCH - storage::batch::HEADER_BYTES, i as i64, i as u64);
            log.append(BytesMut::from(&b[..]), 1).await.unwrap();
        }
        log.sync().await.unwrap();
        assert!(log.segment_count() >= 3);
        let active_base: i64 = dir
            .file_names()
            .iter()
            .filter_map(|n| n.strip_suffix(".log"))
            .map(|d| d.parse().unwrap())
            .max()
            .unwrap();
        // The checkpointer runs in the background: wait for its index file.
        let index = file_name(active_base, FileKind::OffsetIndex);
        for _ in 0..100_000 {
            if dir.file_names().contains(&index) {
                break;
            }
            futures_lite::future::yield_now().await;
        }
        assert!(
            dir.file_names().contains(&index),
            "no checkpoint was written"
        );
        let size = log.size_bytes();
        drop(log); // crash: no clean close
        dir.crash(1);
        let (log, report) = open(&dir, &cfg).await;
        assert_eq!(report.log_end_offset, 4 * batches as i64);
        assert!(
            report.scanned_bytes > 0 && report.scanned_bytes < CHECKPOINT,
            "scanned {} of {size} bytes: {report:?}",
            report.scanned_bytes
        );
        // Only the active segment's indexes were rebuilt.
        assert!(
            report.rebuilt_indexes.iter().all(|&b| b >= active_base),
            "{report:?}"
        );
        log.close().await.unwrap();
    });
}
