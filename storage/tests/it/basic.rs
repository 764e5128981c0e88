use std::rc::Rc;

use bytes::BytesMut;
use storage::batch::BatchHeader;
use storage::io::mem::MemDirectory;
use storage::testing::{make_batch, run_local};
use storage::{Log, LogConfig, ShardStorage, ShardStorageConfig};

fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes_max: 64 * 1024,
        ..LogConfig::default()
    }
}

#[test]
fn append_read_reopen_in_memory() {
    run_local(async {
        let dir = MemDirectory::new();
        let shard = ShardStorage::new(ShardStorageConfig::default());
        let (log, report) = Log::open_in(Rc::new(dir.clone()), small_config(), &shard)
            .await
            .unwrap();
        assert_eq!(report.log_end_offset, 0);
        let mut expected = Vec::new();
        for i in 0..100 {
            let b = make_batch(3, 1000, 1_000 + i, i as u64);
            let info = log.append_durable(BytesMut::from(&b[..]), 7).await.unwrap();
            assert_eq!(info.base_offset, i * 3);
            assert_eq!(info.last_offset, i * 3 + 2);
            expected.push(b);
        }
        assert_eq!(log.high_watermark(), 300);
        assert!(log.segment_count() > 1);
        let r = log.read(0, 1).await.unwrap();
        assert_eq!(r.batches.len(), 1);
        let h = BatchHeader::parse(&r.batches[0]).unwrap();
        assert_eq!((h.base_offset, h.partition_leader_epoch), (0, 7));
        log.close().await.unwrap();
        let (log, report) = Log::open_in(Rc::new(dir.clone()), small_config(), &shard)
            .await
            .unwrap();
        assert_eq!(report.log_end_offset, 300);
        assert_eq!(report.scanned_bytes, 0, "{report:?}");
        let mut offset = 0;
        let mut i = 0;
        while offset < 300 {
            let r = log.read(offset, 5000).await.unwrap();
            assert!(!r.from_cache);
            for bytes in &r.batches {
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let (h, batch, tail) = storage::batch::split_batch(rest).unwrap();
                    assert_eq!(h.base_offset, offset);
                    assert!(batch[16..] == expected[i][16..], "batch {i} differs");
                    offset = h.last_offset() + 1;
                    i += 1;
                    rest = tail;
                }
            }
        }
        assert_eq!(
            log.offset_for_timestamp(1_050).await.unwrap(),
            Some((150, 1_050))
        );
        log.close().await.unwrap();
    });
}

/// The segment file is exactly the stamped batches back to back, and the
/// index files describe them; spelled out byte by byte.
#[test]
fn golden_segment_and_index_files() {
    use storage::format::index::{decode_offset_index, decode_time_index, OffsetEntry, TimeEntry};
    use storage::format::segment::{file_name, FileKind};
    run_local(async {
        let dir = MemDirectory::new();
        let shard = ShardStorage::new(ShardStorageConfig::default());
        let (log, _) = Log::open_in(Rc::new(dir.clone()), small_config(), &shard)
            .await
            .unwrap();
        let a = make_batch(2, 10, 500, 1); // offsets 0..=1
        let b = make_batch(3, 5000, 700, 2); // offsets 2..=4, past one index interval
        let c = make_batch(1, 0, 600, 3); // offset 5, older timestamp
        for x in [&a, &b, &c] {
            log.append_durable(BytesMut::from(&x[..]), 9).await.unwrap();
        }
        log.close().await.unwrap();
        let seg = dir.contents(&file_name(0, FileKind::Segment)).unwrap();
        let mut expected = Vec::new();
        for (x, base) in [(&a, 0i64), (&b, 2), (&c, 5)] {
            let mut s = x.clone();
            s[0..8].copy_from_slice(&base.to_be_bytes()); // base offset
            s[12..16].copy_from_slice(&9i32.to_be_bytes()); // leader epoch = term
            expected.extend_from_slice(&s);
        }
        assert_eq!(seg.len(), expected.len(), "sealed to its exact length");
        assert!(seg == expected, "segment bytes differ");
        let (meta, offsets) =
            decode_offset_index(&dir.contents(&file_name(0, FileKind::OffsetIndex)).unwrap())
                .unwrap();
        assert_eq!(meta.covered_bytes, expected.len() as u64);
        assert_eq!(meta.next_offset, 6);
        assert_eq!((meta.max_timestamp, meta.max_timestamp_offset), (700, 2));
        let c_pos = (a.len() + b.len()) as u32;
        assert_eq!(
            offsets,
            vec![
                OffsetEntry {
                    relative_offset: 0,
                    position: 0
                },
                OffsetEntry {
                    relative_offset: 5,
                    position: c_pos
                },
            ]
        );
        let (tmeta, times) =
            decode_time_index(&dir.contents(&file_name(0, FileKind::TimeIndex)).unwrap()).unwrap();
        assert_eq!(tmeta, meta);
        assert_eq!(
            times,
            vec![
                TimeEntry {
                    timestamp: 500,
                    relative_offset: 0
                },
                TimeEntry {
                    timestamp: 700,
                    relative_offset: 2
                },
            ]
        );
    });
}
