//! Helpers for tests and benchmarks of this crate and its users: building
//! valid record batches and running futures on a small glommio executor.
//! Not used by the log itself.

use std::future::Future;

use crate::batch::{self, HEADER_BYTES};

/// A valid magic-2 batch of `record_count` records whose record bytes are
/// `payload_bytes` of pseudo-random filler derived from `seed` (records are
/// opaque to storage, so their inner format does not matter here).
pub fn make_batch(
    record_count: i32,
    payload_bytes: usize,
    max_timestamp: i64,
    seed: u64,
) -> Vec<u8> {
    assert!(record_count >= 1);
    let mut b = Vec::with_capacity(HEADER_BYTES + payload_bytes);
    b.extend_from_slice(&0i64.to_be_bytes()); // base offset, stamped on append
    let batch_length = (HEADER_BYTES - batch::LOG_OVERHEAD_BYTES + payload_bytes) as i32;
    b.extend_from_slice(&batch_length.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes()); // leader epoch
    b.push(batch::MAGIC_V2 as u8);
    b.extend_from_slice(&0u32.to_be_bytes()); // crc, sealed below
    b.extend_from_slice(&0i16.to_be_bytes()); // attributes
    b.extend_from_slice(&(record_count - 1).to_be_bytes()); // last offset delta
    b.extend_from_slice(&max_timestamp.to_be_bytes()); // base timestamp
    b.extend_from_slice(&max_timestamp.to_be_bytes()); // max timestamp
    b.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    b.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    b.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    b.extend_from_slice(&record_count.to_be_bytes());
    let mut x = seed | 1;
    for _ in 0..payload_bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b.push(x as u8);
    }
    batch::seal_crc(&mut b);
    b
}

/// Runs `f` to completion on a fresh unpinned glommio executor with a small
/// pinned I/O memory pool (tests run many executors).
pub fn run_local<F, T>(f: F) -> T
where
    F: Future<Output = T> + 'static,
    T: 'static,
{
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(2 << 20)
        .make()
        .expect("glommio executor")
        .run(f)
}
