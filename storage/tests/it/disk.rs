//! The same log on the real disk: io_uring + O_DIRECT in a temporary
//! directory.

use bytes::BytesMut;
use storage::testing::{make_batch, run_local};
use storage::{FsyncPolicy, Log, LogConfig, ShardStorage, ShardStorageConfig};

#[test]
fn dma_append_roll_reopen_read() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("topic-0");
    let p = path.clone();
    run_local(async move {
        let shard = ShardStorage::new(ShardStorageConfig::default());
        let config = LogConfig {
            segment_bytes_max: 256 * 1024,
            ..LogConfig::default()
        };
        let (log, _) = Log::open(&p, config.clone(), &shard).await.unwrap();
        let mut infos = Vec::new();
        for i in 0..200u64 {
            let b = make_batch(2, 3000 + (i as usize % 7) * 100, 10 + i as i64, i);
            infos.push(log.append(BytesMut::from(&b[..]), 1).await.unwrap());
        }
        for info in &infos {
            log.wait_durable(info).await.unwrap();
        }
        assert_eq!(log.high_watermark(), 400);
        assert!(log.segment_count() >= 2);
        log.close().await.unwrap();

        let (log, report) = Log::open(&p, config.clone(), &shard).await.unwrap();
        assert_eq!(report.log_end_offset, 400);
        assert_eq!(report.torn_tail, None);
        assert_eq!(report.scanned_bytes, 0);
        let mut offset = 0;
        while offset < 400 {
            let r = log.read(offset, 10_000).await.unwrap();
            assert!(!r.from_cache);
            let mut rest = &r.batches[0][..];
            while !rest.is_empty() {
                let (h, _, tail) = storage::batch::split_batch(rest).unwrap();
                assert_eq!(h.base_offset, offset);
                offset = h.last_offset() + 1;
                rest = tail;
            }
        }
        // Appends continue after the reopened tail page.
        let b = make_batch(1, 100, 1_000, 9);
        let info = log.append_durable(BytesMut::from(&b[..]), 2).await.unwrap();
        assert_eq!(info.base_offset, 400);
        log.close().await.unwrap();
        let (log, report) = Log::open(&p, config, &shard).await.unwrap();
        assert_eq!(report.log_end_offset, 401);
        let r = log.read(400, 1).await.unwrap();
        assert_eq!(r.total_bytes(), b.len());
        log.close().await.unwrap();
    });
    let names: Vec<_> = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n == "00000000000000000000.log"),
        "{names:?}"
    );
}

#[test]
fn dma_truncate_retention_and_crash_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("topic-1");
    run_local(async move {
        let shard = ShardStorage::new(ShardStorageConfig::default());
        let config = LogConfig {
            segment_bytes_max: 128 * 1024,
            retention_bytes: 256 * 1024,
            fsync: FsyncPolicy::Interval {
                ms: 5,
                bytes: 64 * 1024,
            },
            ..LogConfig::default()
        };
        let (log, _) = Log::open(&path, config.clone(), &shard).await.unwrap();
        for i in 0..300u64 {
            let b = make_batch(1, 2000 + (i as usize % 5) * 500, i as i64, i);
            log.append(BytesMut::from(&b[..]), 1).await.unwrap();
        }
        log.sync().await.unwrap();
        assert_eq!(log.durable_offset(), 300);
        let segments = log.segment_count();
        let report = log.apply_retention(0).await.unwrap();
        assert!(report.segments_deleted > 0);
        assert_eq!(log.segment_count(), segments - report.segments_deleted);
        let start = log.log_start_offset();
        assert!(start > 0);
        // Cut in the middle of the active segment, then continue with a new
        // term.
        log.truncate(295).await.unwrap();
        let b = make_batch(1, 100, 1_000, 1);
        let info = log.append_durable(BytesMut::from(&b[..]), 2).await.unwrap();
        assert_eq!(info.base_offset, 295);
        // A crash (no close): drop the log and reopen.
        drop(log);
        let (log, report) = Log::open(&path, config, &shard).await.unwrap();
        assert_eq!(report.log_start_offset, start);
        assert_eq!(report.log_end_offset, 296);
        assert_eq!(report.torn_tail, None, "{report:?}");
        let r = log.read(295, 1 << 20).await.unwrap();
        let (h, _, rest) = storage::batch::split_batch(&r.batches[0]).unwrap();
        assert_eq!((h.base_offset, h.partition_leader_epoch), (295, 2));
        assert!(rest.is_empty());
        let r = log.read(start, 1).await.unwrap();
        assert_eq!(
            storage::batch::BatchHeader::parse(&r.batches[0])
                .unwrap()
                .base_offset,
            start
        );
        log.close().await.unwrap();
    });
}
