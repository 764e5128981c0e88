//! Every bound the storage crate enforces, in one place, each with its reason.

/// Alignment of every direct-I/O write and of every write position. 4 KiB is
/// the logical block size of the devices we target and a multiple of 512.
pub const PAGE_BYTES: usize = 4096;

/// Largest record batch (header included) the log accepts. Kafka's default
/// `message.max.bytes` is 1 MiB; 16 MiB leaves room for large compressed
/// batches while bounding the memory a single append or read may pin.
pub const BATCH_BYTES_MAX: usize = 16 << 20;

/// Capacity of one write chunk (the unit of one direct-I/O write and, under
/// `FsyncPolicy::Always`, of one group commit). Every sync costs a fixed
/// ~0.2 ms here, so a chunk must hold several client batches: with Kafka
/// clients' ~1 MB batches (not page multiples) 2 MiB chunks held one batch
/// each and the broker reached 1.77 GB/s; 4 MiB reached 2.04 GB/s, 8 MiB no
/// more (docs/benchmarks.md, engine). Bigger chunks only pin more memory per
/// partition (earlier, 16 MiB chunks were 14-25 % slower than 2 MiB). A
/// chunk grows beyond this only to fit a single batch larger than it.
pub const WRITE_CHUNK_BYTES: usize = 4 << 20;

/// Smallest capacity of a write chunk. Chunks are sized after the previous
/// one (twice its bytes), so an idle partition pins only this much.
pub const WRITE_CHUNK_BYTES_MIN: usize = 256 << 10;

/// Bytes an append may find already buffered (the open chunk plus the one
/// being written) before it waits: back-pressure instead of unbounded memory.
pub const PENDING_BYTES_MAX: usize = 2 * WRITE_CHUNK_BYTES + BATCH_BYTES_MAX;

/// Blocks of the active segment are reserved this far ahead of the writes:
/// writes into reserved blocks allocate nothing, so fdatasync commits less
/// metadata; the window bounds the space reserved per partition (released
/// when the segment is sealed or the log closed).
pub const PREALLOCATE_STEP_BYTES: u64 = 32 << 20;

/// Bytes read per I/O while scanning a segment during recovery or an index
/// rebuild: big enough for sequential bandwidth, small enough to bound memory.
pub const SCAN_READ_BYTES: usize = 1 << 20;

/// Largest read of a scan, reached when batches are large (reads grow to
/// four batches so that few bytes straddle two reads and are read twice).
pub const SCAN_READ_BYTES_MAX: usize = 2 * BATCH_BYTES_MAX;

/// Default of `LogConfig::index_checkpoint_bytes`. After this many durable
/// bytes in the active segment, its indexes are
/// checkpointed, so recovery after a crash scans at most this much (plus the
/// bytes written since) instead of the whole segment: ~30 ms of reading at
/// 2 GB/s. A checkpoint costs four syncs that compete with the segment
/// writes; every 16 MiB, checkpoints ran 3.3 s of every 4 s at 2 GB/s.
pub const INDEX_CHECKPOINT_BYTES: u64 = 64 << 20;

/// Segment files are addressed with 32-bit positions in the offset index.
pub const SEGMENT_BYTES_LIMIT: u64 = u32::MAX as u64;

/// Smallest segment size accepted in a configuration: smaller segments would
/// make rolling dominate the cost of appending.
pub const SEGMENT_BYTES_MIN: u64 = 64 * 1024;

/// Entries in one index file. With the smallest index interval (the page
/// size) and the largest segment, an index never needs more.
pub const INDEX_ENTRIES_MAX: usize = (SEGMENT_BYTES_LIMIT as usize / PAGE_BYTES) + 1;

/// Rollbacks remembered so that waiters can tell their append was discarded
/// (after a disk-full error). Older ones make waiters fail conservatively.
pub const ROLLBACK_HISTORY_MAX: usize = 16;

/// Batches returned by one read, whatever the byte budget: bounds the vector
/// the caller turns into an iovec.
pub const READ_BATCHES_MAX: usize = 4096;

/// Default shard-wide budget of the recent-batch cache.
pub const CACHE_BYTES_DEFAULT: usize = 64 << 20;

const _: () = assert!(WRITE_CHUNK_BYTES % PAGE_BYTES == 0);
const _: () =
    assert!(WRITE_CHUNK_BYTES_MIN % PAGE_BYTES == 0 && WRITE_CHUNK_BYTES_MIN <= WRITE_CHUNK_BYTES);
const _: () = assert!(BATCH_BYTES_MAX < SEGMENT_BYTES_LIMIT as usize);
const _: () = assert!(SCAN_READ_BYTES % PAGE_BYTES == 0);
const _: () = assert!(SEGMENT_BYTES_MIN as usize >= 4 * PAGE_BYTES);
