//! A process appending through io_uring + O_DIRECT is killed with SIGKILL;
//! reopening the log must keep every batch it acknowledged as durable,
//! byte-exact, with contiguous offsets.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use storage::batch::split_batch;
use storage::testing::{make_batch, run_local};
use storage::{Log, LogConfig, ShardStorage, ShardStorageConfig};

fn batch_for(seq: u64) -> Vec<u8> {
    // Must match src/bin/storage-crash-writer.rs.
    make_batch(
        1 + (seq % 5) as i32,
        500 + (seq as usize * 97) % 9000,
        seq as i64,
        seq,
    )
}

#[test]
fn sigkill_while_appending_keeps_acknowledged_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p0");
    // STORAGE_SIGKILL_ROUNDS raises the number of kill/reopen rounds.
    let rounds: usize = std::env::var("STORAGE_SIGKILL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_storage-crash-writer"))
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn writer");
        let mut acked: BTreeMap<i64, (u64, i64)> = BTreeMap::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        while acked.len() < 300 {
            let line = lines.next().expect("writer exited early").unwrap();
            let v: Vec<i64> = line.split(' ').map(|s| s.parse().unwrap()).collect();
            acked.insert(v[1], (v[0] as u64, v[2]));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Lines printed after our last read are acknowledged too.
        for line in lines.map_while(Result::ok) {
            let v: Vec<i64> = line.split(' ').map(|s| s.parse().unwrap()).collect();
            acked.insert(v[1], (v[0] as u64, v[2]));
        }
        let d = dir.clone();
        run_local(async move {
            let shard = ShardStorage::new(ShardStorageConfig::default());
            let config = LogConfig {
                segment_bytes_max: 256 * 1024,
                ..LogConfig::default()
            };
            let (log, report) = Log::open(&d, config, &shard).await.unwrap();
            let max_acked = acked.values().map(|v| v.1).max().unwrap();
            assert!(
                log.log_end_offset() > max_acked,
                "round {round}: lost acknowledged data: {report:?}"
            );
            let mut offset = log.log_start_offset();
            let mut seen = 0;
            while offset < log.high_watermark() {
                let r = log.read(offset, 256 * 1024).await.unwrap();
                for bytes in &r.batches {
                    let mut rest = &bytes[..];
                    while !rest.is_empty() {
                        let (h, batch, tail) = split_batch(rest).unwrap();
                        assert_eq!(h.base_offset, offset, "offsets contiguous");
                        if let Some(&(seq, last)) = acked.get(&offset) {
                            assert_eq!(h.last_offset(), last);
                            assert!(batch[16..] == batch_for(seq)[16..], "batch {seq} differs");
                            seen += 1;
                        }
                        offset = h.last_offset() + 1;
                        rest = tail;
                    }
                }
            }
            assert_eq!(
                seen,
                acked.len(),
                "round {round}: every acknowledged batch is back"
            );
            log.close().await.unwrap();
        });
    }
}
