//! Node-to-node transport: Raft frames and request/response calls between
//! the shards of different nodes, over TCP.
//!
//! Each shard (a glommio executor) has one [`Link`] per remote node: one
//! outbound TCP connection, opened lazily on the first send, that carries
//! this shard's Raft frames and calls to that node and brings back the
//! answers to its calls. Each shard also runs a [`Listener`] on the node's
//! RPC address (every shard binds the same address; SO_REUSEPORT spreads
//! the connections) that hands everything it receives to the engine as
//! [`Inbound`] values through [`Incoming`], with the sender's (node, shard).
//!
//! One frame layout for every kind (see [`frame`] for the byte tables): a
//! 16-byte header whose magic says the kind (hello, Raft, RPC), a body with
//! its CRC32C, padding to 16. Raft frames are `consensus::wire` frames,
//! carried untouched; RPC payloads are opaque bytes (the engine's rkyv
//! archives). Received frames are slices of 16-aligned receive chunks
//! ([`recv::RecvBuffer`]), so archives are read in place.
//!
//! A connection starts with a hello each way (cluster id, node, shard, shard
//! count, protocol version); a mismatch closes it with one log line. A
//! corrupt, truncated, oversized or unexpected frame closes only its own
//! connection. Every queue is bounded ([`crate::limits::rpc`]): when a
//! link's queue is full its Raft frames are dropped (Raft resends) and its
//! calls fail at once; when the engine does not take deliveries, connections
//! stop reading. A peer that cannot be reached is retried with exponential
//! backoff and jitter ([`backoff`]); the link logs one warning when the
//! peer becomes unreachable and one info line when it is back.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use bytes::Bytes;
//! use net::rpc::{Config, Inbound, Link, Listener};
//!
//! // On every shard (inside its glommio executor):
//! let config = Config::new("sluice-cluster", /* node */ 1, /* shard */ 0, /* shards */ 4);
//! let (listener, incoming) = Listener::bind(&config, "0.0.0.0:9093".parse()?)?;
//! let to_node_2 = Link::new(&config, 2, "10.0.0.2:9093".parse()?);
//!
//! // Raft: frames from consensus::wire::encode_by_destination.
//! # let frame = Bytes::new();
//! let _ = to_node_2.send_raft(frame); // dropped and counted when full: Raft resends
//!
//! // A call: the body is the engine's rkyv archive; so is the answer.
//! const REGISTER_BROKER: u16 = 1;
//! let answer: Bytes = to_node_2
//!     .call(REGISTER_BROKER, Bytes::from_static(b"..."), Duration::from_secs(2))
//!     .await?;
//!
//! // What other nodes send this shard.
//! while let Some(inbound) = incoming.recv().await {
//!     match inbound {
//!         Inbound::Raft { from, frame } => { /* consensus::wire::decode(&frame), route by group */ }
//!         Inbound::Request { from, method, body, responder } => {
//!             responder.respond(Bytes::from_static(b"answer"))?;
//!         }
//!     }
//! }
//! to_node_2.close().await;
//! listener.close().await;
//! # Ok(()) }
//! ```

pub mod backoff;
pub mod frame;
mod io;
mod link;
mod listener;
pub mod recv;

use std::time::Duration;

pub use link::{CallError, Link, LinkState, LinkStats, SendError};
pub use listener::{Inbound, Incoming, Listener, ListenerStats, RespondError, Responder};

use crate::limits::rpc as limits;

/// A node's id in the cluster (`consensus::NodeId`).
pub type NodeId = u64;
/// A shard's index on its node.
pub type ShardId = u16;

/// One shard of one node: who sent a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId {
    pub node: NodeId,
    pub shard: ShardId,
}

/// Who this shard is, and the transport's tuning. [`Config::new`] takes the
/// defaults from [`crate::limits::rpc`]; the fields may be lowered (tests do),
/// never raised above those limits.
#[derive(Debug, Clone)]
pub struct Config {
    /// Nodes of different clusters refuse to talk (at most 255 bytes).
    pub cluster_id: String,
    pub node: NodeId,
    pub shard: ShardId,
    /// Shards on this node, told to peers (a peer with another count owns a
    /// partition on a different shard; the engine routes).
    pub shard_count: u16,
    /// Largest frame body sent or accepted.
    pub frame_body_bytes_max: usize,
    /// Bounds of each link's outgoing queue.
    pub queue_frames_max: usize,
    pub queue_bytes_max: usize,
    /// Bytes of received frames the listener queues for the engine.
    pub inbound_queue_bytes_max: usize,
    pub connect_timeout: Duration,
    pub hello_timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Seeds the reconnect jitter (each link mixes in its remote node id).
    pub seed: u64,
}

impl Config {
    pub fn new(cluster_id: &str, node: NodeId, shard: ShardId, shard_count: u16) -> Self {
        let config = Self {
            cluster_id: cluster_id.to_owned(),
            node,
            shard,
            shard_count,
            frame_body_bytes_max: limits::FRAME_BODY_BYTES_MAX,
            queue_frames_max: limits::PEER_QUEUE_FRAMES_MAX,
            queue_bytes_max: limits::PEER_QUEUE_BYTES_MAX,
            inbound_queue_bytes_max: limits::INBOUND_QUEUE_BYTES_MAX,
            connect_timeout: Duration::from_millis(limits::CONNECT_TIMEOUT_MS),
            hello_timeout: Duration::from_millis(limits::HELLO_TIMEOUT_MS),
            backoff_initial: Duration::from_millis(limits::BACKOFF_INITIAL_MS),
            backoff_max: Duration::from_millis(limits::BACKOFF_MAX_MS),
            seed: node ^ ((shard as u64) << 48),
        };
        config.check();
        config
    }

    /// Panics on a configuration outside the limits: the engine builds it
    /// from a validated broker configuration, so this is a bug. Checked
    /// again by `Link::new` and `Listener::bind`, after any changes.
    fn check(&self) {
        assert!(
            self.cluster_id.len() <= limits::CLUSTER_ID_BYTES_MAX,
            "cluster id over {} bytes",
            limits::CLUSTER_ID_BYTES_MAX
        );
        assert!(
            self.shard < self.shard_count,
            "shard outside the shard count"
        );
        assert!(self.frame_body_bytes_max <= limits::FRAME_BODY_BYTES_MAX);
        assert!(self.frame_body_bytes_max >= frame::RPC_HEADER_BYTES);
        assert!((1..=limits::PEER_QUEUE_FRAMES_MAX).contains(&self.queue_frames_max));
        assert!(self.queue_bytes_max <= limits::PEER_QUEUE_BYTES_MAX);
        assert!(
            self.queue_bytes_max >= self.frame_body_bytes_max + 2 * frame::HEADER_BYTES,
            "the queue must hold the largest frame"
        );
        assert!(self.inbound_queue_bytes_max <= limits::INBOUND_QUEUE_BYTES_MAX);
        assert!(
            self.inbound_queue_bytes_max >= self.frame_body_bytes_max + 2 * frame::HEADER_BYTES,
            "the inbound queue must hold the largest frame"
        );
        assert!(!self.connect_timeout.is_zero() && !self.hello_timeout.is_zero());
        assert!(!self.backoff_initial.is_zero() && self.backoff_initial <= self.backoff_max);
    }

    fn me(&self) -> PeerId {
        PeerId {
            node: self.node,
            shard: self.shard,
        }
    }

    fn hello_to(&self, to_node: NodeId) -> frame::Hello {
        frame::Hello {
            protocol_version: frame::PROTOCOL_VERSION,
            cluster_id: self.cluster_id.clone(),
            from: self.me(),
            shard_count: self.shard_count,
            to_node,
        }
    }
}

/// Why a hello is refused: the same checks on both ends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HelloError {
    #[error("protocol version {remote}, this node speaks {local}")]
    ProtocolVersion { local: u16, remote: u16 },
    #[error("cluster id {remote:?}, this node is in cluster {local:?}")]
    ClusterId { local: String, remote: String },
    #[error("hello addressed to node {to}, this is node {local}")]
    WrongNode { local: NodeId, to: NodeId },
    #[error("hello from node {got}, expected node {expected}")]
    UnexpectedSender { expected: NodeId, got: NodeId },
    #[error("hello names shard {shard} of {shard_count}")]
    BadShard { shard: ShardId, shard_count: u16 },
}

impl Config {
    /// Checks a peer's hello: same protocol and cluster, addressed to this
    /// node, from `expected` when the caller knows whom it dialled.
    fn check_hello(
        &self,
        hello: &frame::Hello,
        expected: Option<NodeId>,
    ) -> Result<(), HelloError> {
        if hello.protocol_version != frame::PROTOCOL_VERSION {
            return Err(HelloError::ProtocolVersion {
                local: frame::PROTOCOL_VERSION,
                remote: hello.protocol_version,
            });
        }
        if hello.cluster_id != self.cluster_id {
            return Err(HelloError::ClusterId {
                local: self.cluster_id.clone(),
                remote: hello.cluster_id.clone(),
            });
        }
        if hello.to_node != self.node {
            return Err(HelloError::WrongNode {
                local: self.node,
                to: hello.to_node,
            });
        }
        if let Some(expected) = expected.filter(|&n| n != hello.from.node) {
            return Err(HelloError::UnexpectedSender {
                expected,
                got: hello.from.node,
            });
        }
        if hello.from.shard >= hello.shard_count {
            return Err(HelloError::BadShard {
                shard: hello.from.shard,
                shard_count: hello.shard_count,
            });
        }
        Ok(())
    }
}
