//! Test helper for the SIGKILL recovery test: appends deterministic batches
//! to a log on the real disk with several appends in flight, printing
//! `seq base_offset last_offset` for each one once it is durable, until it
//! is killed. Usage: `storage-crash-writer DIR`.

use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;

use bytes::BytesMut;
use storage::testing::{make_batch, run_local};
use storage::{Log, LogConfig, ShardStorage, ShardStorageConfig};

/// DMA memory as the broker has it (ARCHITECTURE.md, invariants).
#[global_allocator]
static ALLOC: storage::io::hugepage::HugePageAlloc = storage::io::hugepage::HugePageAlloc;

/// The batch with sequence number `seq`; the test rebuilds it to compare.
pub fn batch_for(seq: u64) -> Vec<u8> {
    make_batch(
        1 + (seq % 5) as i32,
        500 + (seq as usize * 97) % 9000,
        seq as i64,
        seq,
    )
}

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: storage-crash-writer DIR"),
    );
    run_local(async move {
        let shard = ShardStorage::new(ShardStorageConfig::default());
        let config = LogConfig {
            segment_bytes_max: 256 * 1024,
            ..LogConfig::default()
        };
        let (log, _) = Log::open(&dir, config, &shard).await.expect("open");
        let log = Rc::new(log);
        let next_seq = Rc::new(std::cell::Cell::new(0u64));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let log = log.clone();
                let next_seq = next_seq.clone();
                glommio::spawn_local(async move {
                    loop {
                        let seq = next_seq.get();
                        next_seq.set(seq + 1);
                        let b = batch_for(seq);
                        let info = log
                            .append_durable(BytesMut::from(&b[..]), 1)
                            .await
                            .expect("append");
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "{seq} {} {}", info.base_offset, info.last_offset)
                            .and_then(|_| out.flush())
                            .expect("stdout");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await;
        }
    });
}
