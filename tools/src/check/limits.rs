//! Every bound and timing of `sluice-check`, with the reason it has that
//! value.

use std::time::Duration;

/// Anomalies of one kind kept with their descriptions for the report; the
/// rest are only counted. Twenty show a pattern without burying the report.
pub const EXAMPLES_PER_KIND: usize = 20;

// --- Nodes -----------------------------------------------------------------

/// How long a broker may take to accept connections after a (re)start. A
/// debug build recovers a run's few MiB in well under a second; the rest is
/// room for a machine busy with other builds.
pub const NODE_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the start-up probe (an ApiVersions round trip) may take.
pub const READY_PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Largest ApiVersions answer the probe reads (Sluice's is ~400 bytes).
pub const READY_PROBE_RESPONSE_BYTES_MAX: i32 = 64 * 1024;
/// How long a clean shutdown may take (the end-to-end harness allows the same).
pub const NODE_STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Smallest data file system for the disk faults; a run gets room for
/// twice what it writes on top (see `run::small_disk_mib`), so the disk
/// fills only when told to. The image is sparse: only what is written takes
/// space.
pub const SMALL_DISK_MIB_MIN: u64 = 256;
/// The ballast is taken with fallocate in pieces no smaller than this...
pub const DISK_FALLOCATE_MIN_BYTES: u64 = 1 << 20;
/// ...and the last free blocks by writing chunks of this size (a block).
pub const DISK_FILL_CHUNK_BYTES: usize = 4096;

// --- Fault schedule (ms) ---------------------------------------------------

/// No fault in the first seconds: the workload is under way first.
pub const QUIET_START_MS: u64 = 2_000;
/// Nor in the last second: the run ends healed.
pub const QUIET_END_MS: u64 = 1_000;
/// Quiet time between two faults, so each one's effects can be told apart
/// on the timeline and the broker gets to recover in between.
pub const GAP_MS: (u64, u64) = (500, 3_000);
/// How long a killed broker stays down before it is restarted.
pub const KILL_DOWN_MS: (u64, u64) = (200, 3_000);
/// Pauses up to past the clients' request timeout, so that some requests
/// time out (unknown outcome, then a retry) while the broker is frozen.
pub const PAUSE_MS: (u64, u64) = (500, 7_000);
/// A full disk bites when a segment rolls (the active one is preallocated):
/// at the default rate some partition rolls every second, so windows of
/// 2-6 s catch a few.
pub const DISK_FULL_MS: (u64, u64) = (2_000, 6_000);
/// Slow disks, up to past the request timeout as well.
pub const SLOW_DISK_MS: (u64, u64) = (2_000, 7_000);
/// What a slow disk still writes: a few 4 KiB blocks and some ten syncs a
/// second, a hundredth of what this machine's disk does (DESIGN-SKETCH),
/// so group commit and timeouts are what keeps producers going.
pub const SLOW_DISK_BYTES_PER_S: u64 = 256 * 1024;
pub const SLOW_DISK_OPS_PER_S: u64 = 20;
/// Network faults, likewise up to past the request timeout.
pub const NETWORK_FAULT_MS: (u64, u64) = (500, 7_000);
/// Latency the `delay` fault adds to every chunk, each way.
pub const DELAY_MS: (u64, u64) = (20, 300);
/// Faults in one run: one per 1.5 s of a 4-hour run; bounds the schedule.
pub const FAULTS_PER_RUN_MAX: usize = 10_000;

// --- Workload --------------------------------------------------------------

/// The clients' request timeout: the client's default (30 s) would outlast
/// every fault; at 5 s pauses and partitions end some requests in unknown
/// outcomes and retries, which is where brokers lose and duplicate data.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Glommio's per-executor I/O buffer: the client does no file I/O.
pub const CLIENT_IO_MEMORY_BYTES: usize = 512 * 1024;
/// Pause before retrying a failed connect, join or poll.
pub const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// How often a waiting task looks at the run's control flags.
pub const CONTROL_POLL: Duration = Duration::from_millis(20);
/// How long creating the topic may take at the start.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Producer batching: a few values per batch at the default rate, so that
/// batches (not only single records) are what the broker loses or keeps.
pub const PRODUCER_LINGER: Duration = Duration::from_millis(5);
/// How often a producer hands the values that are due to the client.
pub const PRODUCER_TICK: Duration = Duration::from_millis(10);
/// Values one producer may have sent and not yet seen delivered: bounds
/// its memory while the broker is away (later values are skipped, not
/// queued).
pub const OUTSTANDING_VALUES_MAX: usize = 2_000;
/// How long a stopping (or abandoned) producer waits for its outstanding
/// deliveries before recording them as unknown.
pub const PRODUCER_SETTLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a group member stays before it leaves and joins again.
pub const MEMBER_STAY_MS: (u64, u64) = (3_000, 15_000);
/// How often a group member commits its positions.
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(200);
/// How long consumers may take to read up to the end once producers stop.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the final read of all partitions may take.
pub const FINAL_READ_TIMEOUT: Duration = Duration::from_secs(60);

// --- Proxy -----------------------------------------------------------------

/// Connections one proxy forwards at once (two threads each); a run opens a
/// few dozen.
pub const PROXY_CONNECTIONS_MAX: usize = 512;
/// Bytes read per chunk: a Produce or Fetch of the workload fits in one.
pub const PROXY_CHUNK_BYTES: usize = 64 * 1024;
/// How often a stalled pump or the acceptor looks again.
pub const PROXY_POLL: Duration = Duration::from_millis(5);
pub const PROXY_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a verbose run prints its progress.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(10);
