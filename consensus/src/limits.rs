//! Every bound in the crate, with the reason it has the value it has.
//!
//! The core never allocates without a bound: each queue, batch and loop that
//! can grow with input is capped by one of these constants.

/// Most append messages a leader keeps unacknowledged towards one follower.
/// Pipelining hides one network round trip per message; beyond a handful in
/// flight a slow follower only builds up a queue on the leader's side.
pub const INFLIGHT_APPENDS_MAX: usize = 32;

/// Most payload bytes packed into one append message. Large enough that one
/// message carries a full Kafka produce batch (1 MiB default) plus change,
/// small enough that a lagging follower does not make the leader build a
/// message of unbounded size.
pub const APPEND_BYTES_MAX: u64 = 4 * 1024 * 1024;

/// Most entries in one append message: keeps a message of tiny entries from
/// turning into a very long loop on the receiver.
pub const APPEND_ENTRIES_MAX: usize = 4096;

/// Most bytes of committed entries handed to the application in one `Ready`.
/// The application applies them before asking for more, so this bounds the
/// memory a `Ready` pins.
pub const APPLY_BYTES_MAX: u64 = 8 * 1024 * 1024;

/// Most proposals (entries) a leader accepts that are not yet persisted on
/// itself. Beyond this, `propose` fails with `ProposalDropped` and the caller
/// applies back-pressure (stops reading from sockets) instead of queueing.
pub const UNSTABLE_ENTRIES_MAX: usize = 16 * 1024;

/// Most bytes of proposals a leader accepts that are not yet persisted on
/// itself: the byte side of `UNSTABLE_ENTRIES_MAX`, so large entries cannot
/// pin unbounded memory either.
pub const UNSTABLE_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Largest entry payload a leader accepts. An append carries at least one
/// entry, so this must fit one append (and so one wire frame).
pub const ENTRY_BYTES_MAX: u64 = APPEND_BYTES_MAX - 1024;

/// Largest `Snapshot::data`. A snapshot message travels in one frame, so the
/// data is meant to be a small reference to the application's state (e.g.
/// the segment list of a partition log), with bulk state transferred out of
/// band by the runtime, not the state itself.
pub const SNAPSHOT_DATA_BYTES_MAX: u64 = APPEND_BYTES_MAX;

/// Most outgoing messages queued between two `ready()` calls. A leader emits
/// at most a few per follower per event; the bound only guards against a
/// caller that never drains its `Ready`.
pub const MESSAGES_MAX: usize = 64 * 1024;

/// Most read-index requests a leader keeps waiting for their quorum check.
pub const PENDING_READS_MAX: usize = 4096;

/// A learner is promoted to voter only when it is at most this many entries
/// behind the leader's last index: promoting a far-behind learner would stall
/// commits until it catches up, since it then counts towards the quorum.
pub const LEARNER_CATCH_UP_ENTRIES_MAX: u64 = 64;

/// Most members (voters plus learners) of one group. Quorum math and progress
/// tracking use small linear scans sized for this.
pub const MEMBERS_MAX: usize = 16;

/// Heartbeat responses a leader waits for a follower in snapshot state before
/// it assumes the snapshot message was lost and probes again (which sends a
/// fresh snapshot if the follower is still behind the compacted prefix).
pub const SNAPSHOT_WAIT_HEARTBEATS_MAX: u32 = 8;

/// Largest frame the wire decoder accepts: one full append plus overhead.
pub const FRAME_BYTES_MAX: usize = 2 * APPEND_BYTES_MAX as usize + 64 * 1024;

/// Most (group, message) envelopes one frame carries, so one coalesced frame
/// of heartbeats for thousands of groups is still bounded.
pub const FRAME_ENVELOPES_MAX: usize = 64 * 1024;

/// Longest term scan when looking for a conflict hint: conflict search walks
/// backwards one term lookup at a time; beyond this the hint is coarsened.
pub const CONFLICT_SCAN_ENTRIES_MAX: u64 = 64 * 1024;

const _: () = assert!(INFLIGHT_APPENDS_MAX >= 1);
const _: () = assert!(APPEND_ENTRIES_MAX >= 1);
const _: () = assert!(FRAME_BYTES_MAX as u64 > APPEND_BYTES_MAX);
const _: () = assert!(ENTRY_BYTES_MAX + 1024 <= APPEND_BYTES_MAX);
const _: () = assert!(
    UNSTABLE_BYTES_MAX >= 8 * APPEND_BYTES_MAX,
    "room for a few full appends"
);
const _: () = assert!(
    MEMBERS_MAX >= 5,
    "simulator runs 5-voter groups plus a learner"
);
