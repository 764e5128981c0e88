//! Requests between nodes, and what a shard does with what other nodes
//! send it.
//!
//! Requests go to the controller leader's node: broker registration and
//! heartbeats, and the metadata changes any broker receives from clients
//! (forwarded, KIP-590 style). Their bodies are rkyv archives of
//! [`ControllerRequest`] / [`ControllerResponse`]. Raft frames of the
//! controller group are routed to the controller shard.
//!
//! Every shard runs an [`RpcService`] on the node's RPC address (the kernel
//! spreads connections over the shards); whatever arrives is handed to the
//! controller shard through the ordered mesh path.

use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use consensus::wire;
use net::rpc::{Inbound, Listener};
use rkyv::rancor;

use super::controller::{node_id_of, raft_id, CONTROLLER_GROUP};
use super::records::NodeId;
use crate::shard::Shard;

/// The one RPC method: a request to the controller.
pub const METHOD_CONTROLLER: u16 = 1;

/// How long a request to the controller leader may take: a proposal commits
/// within a few round trips; a new topic's partitions open within this too.
pub const CONTROLLER_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A broker's endpoint, as it registers.
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct WireEndpoint {
    pub listener: String,
    pub host: String,
    pub port: u16,
}

/// A topic to create, as forwarded.
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct WireNewTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    pub configs: Vec<(String, String)>,
}

/// Why a forwarded change failed: the Kafka error code and a message.
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct WireError {
    pub code: i16,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum ControllerRequest {
    /// A broker (re)starts: it becomes a member of the metadata log (as a
    /// learner unless it is a voter) and is registered, fenced.
    Register {
        node_id: NodeId,
        incarnation: u64,
        endpoints: Vec<WireEndpoint>,
        rpc_host: String,
        rpc_port: u16,
        rack: Option<String>,
        shard_count: u16,
    },
    /// A registered broker is alive and has applied the metadata log up to
    /// `applied`.
    Heartbeat {
        node_id: NodeId,
        incarnation: u64,
        applied: u64,
    },
    CreateTopics {
        topics: Vec<WireNewTopic>,
        validate_only: bool,
    },
    DeleteTopics {
        names: Vec<String>,
    },
    /// Per topic: its new partition count and, optionally, the replicas of
    /// each new partition.
    CreatePartitions {
        topics: Vec<PartitionGrowth>,
        validate_only: bool,
    },
    /// A block of producer ids for `node_id`.
    AllocateProducerIds {
        node_id: NodeId,
    },
    /// How the receiving node is configured: answered by every node, with
    /// or without a running controller (start-up checks).
    Describe,
}

/// A topic to grow: its name, its new partition count and, optionally, the
/// replicas of each new partition.
pub type PartitionGrowth = (String, i32, Option<Vec<Vec<NodeId>>>);

/// A created topic: its id, partitions and replication factor.
pub type CreatedTopic = ([u8; 16], i32, i16);

#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum ControllerResponse {
    /// This node is not the leader; try `leader` (if known).
    NotLeader {
        leader: Option<NodeId>,
    },
    /// The change is committed at `index`: the asker waits until it has
    /// applied that far before answering its client.
    Registered {
        index: u64,
    },
    Heartbeat {
        fenced: bool,
    },
    /// Per topic: (topic id, partitions, replication factor) or why not.
    Topics {
        index: u64,
        results: Vec<Result<CreatedTopic, WireError>>,
    },
    /// Per name: the deleted topic's id, or why not.
    Deleted {
        index: u64,
        results: Vec<Result<[u8; 16], WireError>>,
    },
    /// The block `first_id..first_id + count` is the asker's, committed at
    /// `index`.
    ProducerIds {
        index: u64,
        first_id: i64,
        count: i32,
    },
    /// Per topic of a CreatePartitions, in order.
    PartitionsAdded {
        index: u64,
        results: Vec<Result<(), WireError>>,
    },
    Described {
        node_id: NodeId,
        /// The controller voters it is configured with: (id, host, port).
        voters: Vec<(NodeId, String, u16)>,
    },
    Failed(WireError),
}

/// The voters `config` names, as [`ControllerResponse::Described`] carries
/// them.
pub fn configured_voters(config: &crate::config::Config) -> Vec<(NodeId, String, u16)> {
    let mut voters: Vec<_> = config
        .cluster
        .voters
        .iter()
        .map(|v| (v.node_id, v.host.clone(), v.port))
        .collect();
    voters.sort();
    voters
}

/// Encodes a request or response body.
pub fn encode<T>(value: &T) -> Bytes
where
    T: for<'a> rkyv::Serialize<
        rkyv::api::high::HighSerializer<
            rkyv::util::AlignedVec,
            rkyv::ser::allocator::ArenaHandle<'a>,
            rancor::Error,
        >,
    >,
{
    Bytes::from(
        rkyv::to_bytes::<rancor::Error>(value)
            .expect("in-memory serialisation cannot fail")
            .into_vec(),
    )
}

/// Decodes a body received from another node, validating it first (a
/// hostile or corrupt body is an error, never a crash).
pub fn decode<T>(body: &[u8]) -> Result<T, rancor::Error>
where
    T: rkyv::Archive,
    T::Archived: for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'a, rancor::Error>>
        + rkyv::Deserialize<T, rkyv::api::high::HighDeserializer<rancor::Error>>,
{
    // Received bodies need not be aligned for the archive: copy once (they
    // are small control messages).
    let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(body.len());
    aligned.extend_from_slice(body);
    rkyv::from_bytes::<T, rancor::Error>(&aligned)
}

/// What one shard runs for other nodes: its listener, and the task routing
/// what arrives.
pub struct RpcService {
    listener: Rc<Listener>,
    router: glommio::Task<()>,
}

impl RpcService {
    pub fn start(shard: &Rc<Shard>, addr: std::net::SocketAddr) -> std::io::Result<Self> {
        let config = net::rpc::Config::new(
            &shard.config.cluster_id,
            raft_id(shard.config.node_id),
            shard.id as u16,
            shard.config.shards.len() as u16,
        );
        let (listener, incoming) = Listener::bind(&config, addr)?;
        if shard.is_controller_shard() {
            tracing::info!(%addr, "accepting other nodes");
        }
        let shard = shard.clone();
        let router = glommio::spawn_local(async move {
            while let Some(inbound) = incoming.recv().await {
                route(&shard, inbound).await;
            }
        });
        Ok(Self {
            listener: Rc::new(listener),
            router,
        })
    }

    pub async fn stop(self) {
        self.listener.close().await;
        self.router.cancel().await;
    }
}

/// Hands what another node sent to the controller shard, in arrival order.
async fn route(shard: &Rc<Shard>, inbound: Inbound) {
    let target = shard.metadata.controller_shard();
    match inbound {
        Inbound::Raft { from, frame } => {
            let decoded = match wire::decode(&frame) {
                Ok(decoded) => decoded,
                Err(error) => {
                    tracing::warn!(node = from.node, %error, "undecodable Raft frame dropped");
                    return;
                }
            };
            let messages: Vec<_> = decoded
                .envelopes
                .into_iter()
                .filter(|e| e.group == CONTROLLER_GROUP)
                .map(|e| e.message)
                .collect();
            if messages.is_empty() {
                return;
            }
            let _ = shard
                .send(target, move |s| {
                    if let Some(node) = s.cluster.get() {
                        for message in messages {
                            node.controller.step(message);
                        }
                    }
                    async {}
                })
                .await;
        }
        Inbound::Request {
            from,
            method,
            body,
            responder,
        } => {
            if method != METHOD_CONTROLLER {
                tracing::warn!(node = from.node, method, "unknown RPC method");
                return;
            }
            let request = match decode::<ControllerRequest>(&body) {
                Ok(request) => request,
                Err(error) => {
                    tracing::warn!(node = from.node, %error, "undecodable controller request dropped");
                    return;
                }
            };
            let from_node = node_id_of(from.node);
            if request == ControllerRequest::Describe {
                let described = ControllerResponse::Described {
                    node_id: shard.config.node_id,
                    voters: configured_voters(&shard.config),
                };
                let _ = responder.respond(encode(&described));
                return;
            }
            let answer = shard
                .send(target, move |s| {
                    super::driver::serve_controller_request(s, from_node, request)
                })
                .await;
            let Ok(answer) = answer else { return };
            glommio::spawn_local(async move {
                let response = answer.await;
                let _ = responder.respond(encode(&response));
            })
            .detach();
        }
    }
}
