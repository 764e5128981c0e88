//! Every bound of the group coordinator, with the reason for its value.

/// Members of one group. Kafka leaves `group.max.size` unbounded by default;
/// a bound keeps one group's join round (whose leader response carries every
/// member's metadata) far below the response size limit.
pub const MEMBERS_PER_GROUP_MAX: usize = 1_000;

/// Protocols (assignor names) one member may offer. Real clients offer one to
/// three; the bound caps the work of protocol selection.
pub const PROTOCOLS_PER_MEMBER_MAX: usize = 32;

/// Committed partitions remembered for one group. 100,000 partitions is far
/// beyond any real subscription and bounds one group's memory to tens of MiB.
pub const OFFSETS_PER_GROUP_MAX: usize = 100_000;

/// Groups one coordinator partition holds. Bounds the memory of a shard and
/// the time of its replay at start-up.
pub const GROUPS_PER_COORDINATOR_MAX: usize = 100_000;

/// Length of a group id, an instance id or a client id we keep. Kafka
/// strings may be 32 KiB; ids longer than this are bugs or attacks.
pub const ID_BYTES_MAX: usize = 255;

/// Bytes of the client id used as the prefix of generated member ids.
pub const MEMBER_ID_PREFIX_BYTES_MAX: usize = 64;

/// Bytes of one member's protocol metadata or assignment. Assignments of
/// thousands of partitions stay well below this; more is a broken client.
pub const MEMBER_METADATA_BYTES_MAX: usize = 1 << 20;

/// Default for the per-commit metadata string (Kafka's
/// `offset.metadata.max.bytes`).
pub const OFFSET_METADATA_BYTES_DEFAULT: usize = 4_096;

/// Group records one batch written to `__consumer_offsets` carries. A commit
/// of many partitions is split into batches of this size so that a batch
/// stays well below the log's batch size limit.
pub const RECORDS_PER_BATCH_MAX: usize = 1_000;

/// Bytes of group records one batch aims at. Well below the log's batch
/// limit (`storage::limits::BATCH_BYTES_MAX`), so that a checkpoint of many
/// large group snapshots becomes many batches, never one the log refuses.
pub const GROUP_BATCH_BYTES_TARGET: usize = 1 << 20;
const _: () = assert!(GROUP_BATCH_BYTES_TARGET * 4 <= storage::limits::BATCH_BYTES_MAX);

/// Groups whose deadlines one tick processes. Bounds the latency of a tick;
/// the rest are handled by the next tick, which is due at once.
pub const EXPIRED_GROUPS_PER_TICK_MAX: usize = 1_024;

/// Partitions of `__consumer_offsets`. Groups hash to a partition and the
/// partition to a shard, so this number is part of the on-disk layout: a
/// group would be looked for in the wrong partition if it changed. Sixteen
/// spread groups over up to sixteen shards at a cost of sixteen small logs.
pub const OFFSETS_TOPIC_PARTITIONS: i32 = 16;

/// Longest sleep of a shard's group timer. Deadlines are checked at least
/// this often, so a session or rebalance deadline fires at most this late;
/// the cost is a handful of cheap wake-ups per second per shard.
pub const TIMER_TICK_MAX_MS: u64 = 50;

/// Bytes one replay read asks the log for. Large enough that a replay of
/// millions of records is a few thousand reads, small enough to bound memory.
pub const REPLAY_READ_BYTES: usize = 4 << 20;

/// Checkpoint intervals of `__consumer_offsets` history kept before old
/// segments are deleted. Three leaves one whole interval of margin between
/// the newest deleted record and the last checkpoint, with segments rolling
/// once per interval.
pub const CHECKPOINT_INTERVALS_KEPT: u64 = 3;
