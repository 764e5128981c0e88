//! Every bound in the load generator, with the reason it has that value.

/// Smallest message the tool produces: the value carries the message's
/// intended send time (8 bytes) and its producer sequence (8 bytes) so that
/// consumers can measure end-to-end latency and detect loss.
pub const MESSAGE_BYTES_MIN: usize = 16;
/// Largest message: Kafka's default `message.max.bytes` is ~1 MiB; larger
/// values would be rejected by most brokers anyway.
pub const MESSAGE_BYTES_MAX: usize = 1 << 20;

/// Partitions per topic and topics per run: enough for every OpenMessaging
/// shape (100 partitions) with head-room, small enough that per-partition
/// state (batches, offsets) stays a few MiB.
pub const PARTITIONS_PER_TOPIC_MAX: u32 = 10_000;
pub const TOPICS_MAX: u32 = 1_000;
/// Producer and consumer tasks per run; each owns one connection per broker.
pub const PRODUCERS_MAX: u32 = 1_024;
pub const CONSUMERS_MAX: u32 = 1_024;

/// Messages one producer may have handed to the client and not yet seen
/// acknowledged. This, times the message size, bounds the producer's memory
/// whatever the target rate: an open-loop producer that falls behind does not
/// queue messages, it sends them late and charges the delay to latency.
pub const IN_FLIGHT_MESSAGES_MAX: usize = 1 << 20;
/// Bytes a producer may have in flight; together with the message bound it
/// keeps memory under ~64 MiB per producer even with 64 KiB messages.
pub const IN_FLIGHT_BYTES_MAX: usize = 64 << 20;

/// Highest latency the histograms track: one hour in microseconds. A value
/// above is clamped (and counted) instead of failing the run.
pub const LATENCY_US_MAX: u64 = 3_600 * 1_000_000;
/// Significant digits of every histogram: 3 gives 0.1% resolution, which is
/// what HdrHistogram tools expect and keeps a histogram at ~40 KiB.
pub const HISTOGRAM_SIGFIG: u8 = 3;

/// Length of one reporting interval. One second matches the issue and the
/// resolution of the throughput plot.
pub const INTERVAL_MS: u64 = 1_000;
/// Intervals kept in memory for the time-series outputs: ten hours of
/// one-second intervals; a longer run keeps writing the interval log but the
/// in-memory series stops growing.
pub const INTERVALS_MAX: usize = 36_000;
/// Interval snapshots queued from a worker to the coordinator. Workers drop
/// a snapshot (after merging it into their totals) rather than block.
pub const SNAPSHOT_QUEUE_MAX: usize = 64;

/// How long the whole run may go without any acknowledged or consumed
/// message before it is declared stuck and ended with a report.
pub const STALL_SECS_DEFAULT: u64 = 10;
/// Time allowed for consumers to drain what was produced after producers stop.
pub const DRAIN_SECS_DEFAULT: u64 = 10;

/// Runs overlaid by `compare`: beyond this the plot is unreadable.
pub const COMPARE_RUNS_MAX: usize = 16;
