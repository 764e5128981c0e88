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
