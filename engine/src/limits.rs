//! Every bound the engine enforces, with the reason for its value. Defaults
//! can be changed in the configuration; ceilings cannot.

/// Shards in one broker. The `shard_for` table and the cross-shard mesh are
/// O(shards²) in channels; 256 covers today's largest sockets.
pub const SHARDS_MAX: usize = 256;

/// glommio registers this much io_uring memory per shard unless configured.
/// glommio pins roughly three times this; the start-up fit shrinks it when
/// the locked-memory limit is lower.
pub const IO_MEMORY_PER_SHARD_DEFAULT_BYTES: usize = 10 << 20;
/// Below this glommio's registered buffers stop paying off; the broker then
/// says so and lets glommio use ordinary memory.
pub const IO_MEMORY_PER_SHARD_MIN_BYTES: usize = 64 << 10;
/// glommio locks about this many times `io_memory` per executor.
pub const IO_MEMORY_LOCK_FACTOR: usize = 3;

/// Largest request frame by default (Kafka's `socket.request.max.bytes`).
pub const FRAME_BYTES_MAX_DEFAULT: usize = 100 << 20;
/// A frame larger than this is never accepted, whatever the configuration:
/// one frame must fit in a shard's request memory.
pub const FRAME_BYTES_MAX_CEILING: usize = 1 << 30;
/// Largest record batch by default (Kafka's `message.max.bytes` is about 1 MB;
/// we allow 8 MiB so that 1 MB client batches plus headers fit comfortably).
pub const BATCH_BYTES_MAX_DEFAULT: usize = 8 << 20;

/// Connections one shard serves at once; more are accepted and closed at once
/// so that a connection storm cannot exhaust file descriptors.
pub const CONNECTIONS_PER_SHARD_MAX_DEFAULT: usize = 10_000;
/// Requests a connection may have in flight (pipelined) before the shard stops
/// reading from it. librdkafka pipelines up to 1,000,000 by default; five is
/// Kafka's `max.in.flight.requests.per.connection` for idempotence, and a few
/// more keep fetches and produces overlapping.
pub const IN_FLIGHT_REQUESTS_PER_CONNECTION_MAX_DEFAULT: usize = 16;
pub const IN_FLIGHT_REQUESTS_PER_CONNECTION_CEILING: usize = 1024;
/// Bytes of request frames one shard holds in memory at once.
pub const REQUEST_MEMORY_PER_SHARD_DEFAULT_BYTES: usize = 256 << 20;

/// Cross-shard channel capacity (messages) between each pair of shards; a full
/// channel makes the sender wait, which back-pressures its connections.
pub const CROSS_SHARD_CHANNEL_CAPACITY: usize = 1024;

/// Partitions in one topic, and topics in the broker: bounds the metadata
/// table every shard holds and the size of a Metadata response.
pub const PARTITIONS_PER_TOPIC_MAX: usize = 10_000;
pub const TOPICS_MAX: usize = 100_000;
/// Kafka's own limit on topic-name length.
pub const TOPIC_NAME_BYTES_MAX: usize = 249;

/// A long-poll fetch never waits longer than this, whatever the client asks.
pub const FETCH_MAX_WAIT_CEILING_MS: u64 = 30_000;
/// Bytes one Fetch response may carry, whatever the client asks.
pub const FETCH_RESPONSE_BYTES_CEILING: usize = 64 << 20;

/// Idempotent producers: batches remembered per (producer id, partition) for
/// duplicate detection. Kafka clients keep at most five in flight.
pub const PRODUCER_BATCHES_REMEMBERED: usize = 5;
/// Producer ids tracked per partition; the oldest idle ones are forgotten.
pub const PRODUCERS_PER_PARTITION_MAX: usize = 10_000;

/// How often a shard checks whether shutdown was requested.
pub const SHUTDOWN_POLL_MS: u64 = 50;
/// How long shutdown waits for in-flight requests before closing anyway.
pub const SHUTDOWN_DRAIN_MS: u64 = 10_000;

/// Offsets at the end of a partition replayed at start-up to rebuild its
/// idempotent-producer state: a million 1 KiB records is about 1 GB of
/// headers to walk, a bounded start-up cost per partition.
pub const PRODUCER_STATE_REBUILD_OFFSETS: i64 = 1_000_000;
/// Bytes read per step when rebuilding producer state from the log at start-up.
pub const PRODUCER_STATE_READ_BYTES: usize = 4 << 20;
/// Batches in one partition entry of a Produce request. Clients send one;
/// the bound keeps the per-request header vector small.
pub const BATCHES_PER_PRODUCE_PARTITION_MAX: usize = 1024;
/// Replicas a partition may have. One until partitions are replicated
/// through their own Raft groups: more would promise a durability the
/// broker does not give.
pub const REPLICATION_FACTOR_MAX: usize = 1;
/// Producer ids a broker takes from the controller at once: one controller
/// log entry per thousand idempotent producers started, and at most this
/// many ids unused when a broker restarts.
pub const PRODUCER_ID_BLOCK: i32 = 1000;
/// Controller log entries applied between two snapshots of the metadata
/// image. A snapshot of 10,000 partitions is about 1 MB (one record of
/// ~100 bytes each); the log it replaces holds at least this many entries,
/// so restarts replay at most this many.
pub const CONTROLLER_SNAPSHOT_ENTRIES: u64 = 10_000;
/// The batch cache of the controller's log: its entries are read back only
/// at start-up and by followers catching up, and are small.
pub const CONTROLLER_CACHE_BYTES: usize = 4 << 20;
/// How often each shard applies retention to its partitions.
pub const RETENTION_CHECK_MS: u64 = 60_000;

// Relations the defaults must keep (checked when compiling).
const _: () = assert!(REQUEST_MEMORY_PER_SHARD_DEFAULT_BYTES >= FRAME_BYTES_MAX_DEFAULT);
const _: () = assert!(FRAME_BYTES_MAX_DEFAULT <= FRAME_BYTES_MAX_CEILING);
const _: () = assert!(BATCH_BYTES_MAX_DEFAULT <= FRAME_BYTES_MAX_DEFAULT);
const _: () = assert!(BATCH_BYTES_MAX_DEFAULT <= storage::limits::BATCH_BYTES_MAX);
const _: () = assert!(
    IN_FLIGHT_REQUESTS_PER_CONNECTION_MAX_DEFAULT <= IN_FLIGHT_REQUESTS_PER_CONNECTION_CEILING
);
const _: () = assert!(IO_MEMORY_PER_SHARD_DEFAULT_BYTES >= IO_MEMORY_PER_SHARD_MIN_BYTES);
const _: () = assert!(FRAME_BYTES_MAX_CEILING <= net::limits::FRAME_BYTES_MAX_CEILING);
