//! Every bound the wire codec enforces, in one place, with the reason for each.
//!
//! A frame is hostile until decoded: no count or length read from it is
//! trusted before it has been checked against the bytes that remain and
//! against these limits.

/// Default largest request frame accepted, in bytes (Kafka's default
/// `socket.request.max.bytes`). A larger size prefix closes the connection
/// before any of the frame is buffered.
pub const FRAME_BYTES_MAX_DEFAULT: usize = 100 * 1024 * 1024;

/// Receive-buffer space reserved ahead of an incomplete frame. The size
/// prefix is only a claim: reserving all of it at once would let four bytes
/// from a client pin `FRAME_BYTES_MAX_DEFAULT` of memory. The buffer grows by
/// at most this much per read instead, as the bytes actually arrive.
pub const RECEIVE_RESERVE_BYTES_MAX: usize = 1024 * 1024;

/// Hard ceiling for a configured frame maximum: the size prefix is an i32 and
/// the decode budget below is a multiple of the frame size, which must fit.
pub const FRAME_BYTES_MAX_CEILING: usize = i32::MAX as usize;

/// Decoded structures (vectors of structs, strings) may take at most this many
/// bytes of memory per byte of frame. Each array element costs at least one
/// wire byte but can be a 100-byte struct in memory, so without this budget a
/// frame full of one-byte elements would amplify into gigabytes. The densest
/// legitimate messages (arrays of small flexible structs) stay well below 32.
pub const DECODE_MEMORY_PER_FRAME_BYTE: usize = 32;

/// Memory budget floor for tiny frames, so that the fixed cost of a small
/// message (a few vectors of a few elements) never trips the budget.
pub const DECODE_MEMORY_FLOOR_BYTES: usize = 64 * 1024;

/// Vectors are pre-sized from the wire count only up to this many elements;
/// beyond it they grow as elements are actually decoded. Keeps one lying count
/// from reserving the whole budget up front.
pub const VEC_PREALLOC_ELEMENTS_MAX: usize = 1024;

/// Tagged fields in one tagged-field section. Kafka defines fewer than ten per
/// structure; unknown ones are skipped, and this stops a frame from making the
/// decoder walk millions of empty tags.
pub const TAGGED_FIELDS_MAX: usize = 64;

/// Byte strings shorter than this are copied into the encoder's current chunk
/// when a response is encoded; longer ones (record data) are kept as their own
/// chunk for a vectored write. An iovec entry costs more than copying a few
/// hundred bytes.
pub const ENCODE_INLINE_BYTES_MAX: usize = 512;

/// Records one batch may claim, used only as a sanity bound while iterating
/// records: every record takes at least 7 bytes on the wire, so a count above
/// `bytes / 7` is a lie that the iterator rejects before looping.
pub const RECORD_BYTES_MIN: usize = 7;

/// Headers one record may carry before the iterator rejects it.
pub const RECORD_HEADERS_MAX: usize = 64 * 1024;

const _: () = assert!(FRAME_BYTES_MAX_DEFAULT <= FRAME_BYTES_MAX_CEILING);
const _: () = assert!(DECODE_MEMORY_FLOOR_BYTES >= VEC_PREALLOC_ELEMENTS_MAX * 8);

/// Bounds of the node-to-node transport (`crate::rpc`). Defaults of
/// `rpc::Config` come from here; a configuration may lower them, never raise
/// them above the maxima.
pub mod rpc {
    /// Largest frame body (after the 16-byte header, before padding) a node
    /// sends or accepts. It must carry one full Raft frame:
    /// `consensus::limits::FRAME_BYTES_MAX` is 8 MiB + 64 KiB (two 4 MiB
    /// appends); `net` does not depend on `consensus`, so a test checks the
    /// relation. Twice that leaves room for metadata RPC answers (a Metadata
    /// image of 10,000 partitions is about 1 MiB) without letting one frame
    /// pin much memory.
    pub const FRAME_BODY_BYTES_MAX: usize = 16 << 20;

    /// Cluster ids are operator-chosen strings (Kafka's are 22-character
    /// base64 UUIDs); the length travels in the hello as one byte.
    pub const CLUSTER_ID_BYTES_MAX: usize = 255;

    /// Largest hello body: 24 fixed bytes plus the cluster id. Before the
    /// hello is checked a connection is a stranger, and its frames may claim
    /// no more than this, so 16 bytes from a port scanner never make the
    /// receiver reserve a large buffer.
    pub const HELLO_BODY_BYTES_MAX: usize = 24 + CLUSTER_ID_BYTES_MAX;

    /// Bytes of one receive chunk. Frames are cut from a chunk without
    /// copying, and a frame larger than a chunk gets a chunk of exactly its
    /// size (so it owns that memory alone). Large enough that a read of
    /// small frames (heartbeats, 80 bytes per group) takes many at once,
    /// small enough that a few kept frames do not pin much: every frame
    /// keeps its chunk alive. Each chunk is zeroed once when allocated
    /// (glommio reads need initialised memory): 10 to 50 GB/s here, as the
    /// allocator reuses memory or maps fresh zero pages, so 5 to 25 µs per
    /// chunk (net/benches/rpc.rs).
    pub const RECV_CHUNK_BYTES: usize = 256 << 10;

    /// Frames queued towards one remote node on one shard (queued plus being
    /// written). The engine queues at most one Raft frame per destination per
    /// `Ready` and a handful of RPCs; 4096 frames is hundreds of `Ready`
    /// rounds, beyond which the peer is not keeping up and more queueing only
    /// delays fresh heartbeats behind stale ones. Full: Raft frames are
    /// dropped (Raft resends), calls fail with `CallError::QueueFull`.
    pub const PEER_QUEUE_FRAMES_MAX: usize = 4096;

    /// Bytes queued towards one remote node on one shard (the byte side of
    /// `PEER_QUEUE_FRAMES_MAX`): four of the largest frames, and 40 to 80 ms
    /// of sending at the 0.8 to 1.6 GB/s one link sustains over loopback
    /// here (docs/benchmarks.md, net::rpc); waiting longer than that in a
    /// queue is worse than a Raft retry.
    pub const PEER_QUEUE_BYTES_MAX: usize = 64 << 20;

    /// Calls one link has waiting for their response. Broker heartbeats and
    /// forwarded metadata requests are a few per second; this only stops a
    /// caller that never awaits from growing the map of pending calls.
    pub const CALLS_IN_FLIGHT_MAX: usize = 1024;

    /// Buffers in one vectored send: Linux's `IOV_MAX`. A flush takes queued
    /// frames (one to three buffers each) until this many buffers.
    pub const WRITE_IOVECS_MAX: usize = 1024;

    /// Requests of one inbound connection that are delivered and not yet
    /// answered, or answered and not yet written. At the bound the
    /// connection stops reading (TCP back-pressure), so a peer that never
    /// reads its answers cannot make this node queue them without limit.
    pub const INBOUND_REQUESTS_IN_FLIGHT_MAX: usize = 256;

    /// Deliveries (Raft frames and requests) queued on one shard for the
    /// engine, in number and in bytes. When either is full, the connections
    /// stop reading: the senders' queues fill and their Raft frames are
    /// dropped there, not here. Without the byte bound, 1024 deliveries of
    /// 1 MiB frames pinned 1 GiB (seen in net/benches/rpc.rs); 64 MiB is
    /// the same as one link's outgoing queue, 40 to 80 ms of receiving at
    /// the rates measured there.
    pub const INBOUND_QUEUE_MAX: usize = 1024;
    pub const INBOUND_QUEUE_BYTES_MAX: usize = 64 << 20;

    /// Bytes a connection's read loop handles before it lets the shard's
    /// other tasks run (Raft ticks, other connections, the engine taking
    /// deliveries). Reads that find data waiting never yield on their own:
    /// a busy connection kept its shard for the whole 1 GiB above. 1 MiB is
    /// about 1 ms at the rates measured there.
    pub const READ_BURST_BYTES: usize = 1 << 20;

    /// Inbound connections one shard serves. A cluster of 32 nodes of 32
    /// shards dials 1024 connections into each node, spread over its shards
    /// by SO_REUSEPORT; beyond this, new connections are closed at once.
    pub const INBOUND_CONNECTIONS_MAX: usize = 1024;

    /// How long a TCP connect may take before the attempt counts as failed.
    /// Nodes are on one network (connects take well under a millisecond);
    /// the bound matters only for an address that drops SYNs, where the
    /// kernel would otherwise retry for two minutes.
    pub const CONNECT_TIMEOUT_MS: u64 = 1000;

    /// How long either side waits for the other's hello after connecting.
    pub const HELLO_TIMEOUT_MS: u64 = 2000;

    /// First reconnect pause and its ceiling: Kafka's defaults for
    /// `reconnect.backoff.ms` and `reconnect.backoff.max.ms`. The ceiling is
    /// also how long a connection must stay up before the pause starts
    /// again from the first value.
    pub const BACKOFF_INITIAL_MS: u64 = 50;
    pub const BACKOFF_MAX_MS: u64 = 1000;

    /// TCP_USER_TIMEOUT: sent data unacknowledged this long breaks the
    /// connection. Without it a peer that vanished (power loss, network
    /// partition) keeps a connection "up" for the kernel's 15 minutes of
    /// retransmissions. Shorter than Kafka's broker session (9 s) would
    /// break connections during brief congestion; this is the same order.
    pub const TCP_USER_TIMEOUT_MS: u64 = 10_000;

    /// Keepalive on idle connections (an inbound connection only receives):
    /// first probe after this much silence, then every second, three times.
    pub const TCP_KEEPALIVE_IDLE_MS: u64 = 5_000;

    const _: () = assert!(PEER_QUEUE_BYTES_MAX >= 2 * (FRAME_BODY_BYTES_MAX + 64));
    const _: () = assert!(RECV_CHUNK_BYTES % 16 == 0 && RECV_CHUNK_BYTES >= 4096);
    const _: () = assert!(CLUSTER_ID_BYTES_MAX <= u8::MAX as usize);
    const _: () = assert!(FRAME_BODY_BYTES_MAX <= u32::MAX as usize);
    const _: () = assert!(BACKOFF_INITIAL_MS >= 1 && BACKOFF_INITIAL_MS <= BACKOFF_MAX_MS);
    const _: () = assert!(WRITE_IOVECS_MAX >= 3, "one RPC frame is three buffers");
    const _: () = assert!(
        INBOUND_QUEUE_BYTES_MAX >= FRAME_BODY_BYTES_MAX + 64,
        "the largest frame must fit"
    );
}
