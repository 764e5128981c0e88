//! Produce: validate acks and topics, split the partitions among their owner
//! shards, append there (with idempotence checks), and join the answers in
//! request order. acks=0 gets no response at all.
//!
//! Order: [`dispatch`] runs in the connection's read loop, one request after
//! the other, and hands each owner its partitions through the ordered path
//! (`route`); on the owner, [`Partition::produce`] takes the append's place
//! before anything awaits. So one connection's appends to a partition reach
//! the log in the order its requests arrived.

use std::future::Future;
use std::rc::Rc;

use bytes::Bytes;
use net::msg::produce_request::ProduceRequest;
use net::msg::produce_response::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
};
use net::ErrorCode;

use super::route::{locate, ByOwner};
use crate::cluster::driver;
use crate::partition::{Appended, Partition};
use crate::shard::mesh::LocalFuture;
use crate::shard::Shard;

/// One partition entry routed to its owner.
struct Part {
    topic: String,
    index: i32,
    records: Option<Bytes>,
}

type PartResult = Result<Appended, ErrorCode>;

/// The ordered part of a Produce: checks, topic auto-creation, and handing
/// every owner its partitions. Returns the future of the response.
pub async fn dispatch(
    shard: &Rc<Shard>,
    request: ProduceRequest,
) -> impl Future<Output = Option<ProduceResponse>> + 'static {
    let acks = request.acks;
    let mut responses: Vec<TopicProduceResponse> = request
        .topic_data
        .iter()
        .map(|t| TopicProduceResponse {
            name: t.name.clone(),
            partition_responses: t
                .partition_data
                .iter()
                .map(|p| PartitionProduceResponse {
                    index: p.index,
                    base_offset: -1,
                    ..Default::default()
                })
                .collect(),
        })
        .collect();
    let refusal = if !(-1..=1).contains(&acks) {
        Some(ErrorCode::InvalidRequiredAcks)
    } else if request.transactional_id.is_some() {
        Some(ErrorCode::TransactionalIdAuthorizationFailed)
    } else {
        None
    };
    let mut by_owner = ByOwner::new(shard.metadata.shard_count());
    // Brokers named in NOT_LEADER_OR_FOLLOWER hints (KIP-951): their
    // endpoints go with the answer, so clients need no metadata round trip.
    let mut leaders = Vec::new();
    if let Some(code) = refusal {
        for p in responses
            .iter_mut()
            .flat_map(|t| t.partition_responses.iter_mut())
        {
            p.error_code = code.code();
        }
    } else {
        for (t, topic) in request.topic_data.into_iter().enumerate() {
            if let Err(e) = driver::ensure_topic(shard, &topic.name).await {
                for p in &mut responses[t].partition_responses {
                    p.error_code = e.error_code().code();
                }
                continue;
            }
            for (p, entry) in topic.partition_data.into_iter().enumerate() {
                let owner = match locate(shard, &topic.name, entry.index) {
                    Ok(owner) => owner,
                    Err(elsewhere) => {
                        let out = &mut responses[t].partition_responses[p];
                        out.error_code = elsewhere.error.code();
                        if let Some((leader_id, leader_epoch)) = elsewhere.leader {
                            out.current_leader = LeaderIdAndEpoch {
                                leader_id,
                                leader_epoch,
                            };
                            leaders.push(leader_id);
                        }
                        continue;
                    }
                };
                let part = Part {
                    topic: topic.name.clone(),
                    index: entry.index,
                    records: entry.records,
                };
                by_owner.push(owner, (t, p), part);
            }
        }
    }
    let node_endpoints = endpoints_of(shard, leaders);
    let durable = acks != 0;
    let gathered = by_owner
        .send(
            shard,
            move |owner, parts| produce_on_owner(owner, parts, durable),
            Err(ErrorCode::NotLeaderOrFollower),
        )
        .await;
    async move {
        for ((t, p), result) in gathered.join().await {
            let out = &mut responses[t].partition_responses[p];
            match result {
                Ok(appended) => {
                    out.base_offset = appended.base_offset;
                    out.log_start_offset = appended.log_start_offset;
                }
                Err(code) => out.error_code = code.code(),
            }
        }
        (acks != 0).then(|| ProduceResponse {
            responses,
            node_endpoints,
            ..Default::default()
        })
    }
}

/// The client endpoints of `nodes` (each once), for leader hints.
fn endpoints_of(shard: &Shard, mut nodes: Vec<i32>) -> Vec<NodeEndpoint> {
    nodes.sort_unstable();
    nodes.dedup();
    let image = shard.metadata.image();
    nodes
        .into_iter()
        .filter_map(|node_id| {
            let broker = image.broker(node_id)?;
            let endpoint = broker.registration.endpoints.first()?;
            Some(NodeEndpoint {
                node_id,
                host: endpoint.host.clone(),
                port: i32::from(endpoint.port),
                rack: broker.registration.rack.clone(),
            })
        })
        .collect()
}

/// Runs on the owner shard, called in the order the owner received its
/// jobs: every partition takes its append's place at once; the appends then
/// run concurrently, so that partitions share the shard's group commit.
fn produce_on_owner(
    shard: Rc<Shard>,
    parts: Vec<Part>,
    durable: bool,
) -> impl Future<Output = Vec<PartResult>> + 'static {
    let appends: Vec<glommio::Task<PartResult>> = parts
        .into_iter()
        .map(|part| {
            let partition = shard.partitions.get(&part.topic, part.index);
            let append = admit(partition, part.records, durable);
            let (topic, index) = (part.topic, part.index);
            glommio::spawn_local(async move {
                let result = append.await;
                if let Err(code) = result {
                    tracing::debug!(%topic, partition = index, %code, "produce refused");
                }
                result
            })
        })
        .collect();
    async move {
        let mut out = Vec::with_capacity(appends.len());
        for append in appends {
            out.push(append.await);
        }
        out
    }
}

/// One partition's append, its place already taken when this returns.
fn admit(
    partition: Option<Rc<Partition>>,
    records: Option<Bytes>,
    durable: bool,
) -> LocalFuture<PartResult> {
    match (partition, records) {
        (None, _) => Box::pin(async { Err(ErrorCode::UnknownTopicOrPartition) }),
        (Some(_), None) => Box::pin(async { Err(ErrorCode::CorruptMessage) }),
        (Some(partition), Some(records)) => Box::pin(partition.produce(records, durable)),
    }
}
