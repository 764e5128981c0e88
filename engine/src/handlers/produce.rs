//! Produce: validate acks and topics here, split the partitions among their
//! owner shards, append there (with idempotence checks), and join the answers
//! in request order. acks=0 gets no response at all.

use std::rc::Rc;

use bytes::Bytes;
use net::msg::produce_request::ProduceRequest;
use net::msg::produce_response::{PartitionProduceResponse, ProduceResponse, TopicProduceResponse};
use net::ErrorCode;

use super::{join_all, topic_error_code};
use crate::partition::Appended;
use crate::shard::Shard;
use crate::topics;

/// One partition entry routed to its owner.
struct Part {
    slot: (usize, usize),
    topic: String,
    index: i32,
    records: Option<Bytes>,
}

pub async fn handle(shard: &Rc<Shard>, request: ProduceRequest) -> Option<ProduceResponse> {
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
    let fail_all = |responses: &mut Vec<TopicProduceResponse>, code: ErrorCode| {
        for p in responses
            .iter_mut()
            .flat_map(|t| t.partition_responses.iter_mut())
        {
            p.error_code = code.code();
        }
    };

    if !(-1..=1).contains(&acks) {
        fail_all(&mut responses, ErrorCode::InvalidRequiredAcks);
        return respond(acks, responses);
    }
    if request.transactional_id.is_some() {
        fail_all(
            &mut responses,
            ErrorCode::TransactionalIdAuthorizationFailed,
        );
        return respond(acks, responses);
    }

    let shard_count = shard.placement.shard_count();
    let mut per_owner: Vec<Vec<Part>> = (0..shard_count).map(|_| Vec::new()).collect();
    for (t, topic) in request.topic_data.into_iter().enumerate() {
        let partitions = match topics::ensure(shard, &topic.name).await {
            Ok(n) => n,
            Err(e) => {
                for p in &mut responses[t].partition_responses {
                    p.error_code = topic_error_code(&e).code();
                }
                continue;
            }
        };
        for (p, entry) in topic.partition_data.into_iter().enumerate() {
            if entry.index < 0 || entry.index >= partitions {
                responses[t].partition_responses[p].error_code =
                    ErrorCode::UnknownTopicOrPartition.code();
                continue;
            }
            let owner = shard.placement.shard_for(&topic.name, entry.index);
            per_owner[owner].push(Part {
                slot: (t, p),
                topic: topic.name.clone(),
                index: entry.index,
                records: entry.records,
            });
        }
    }

    let durable = acks != 0;
    let calls: Vec<_> = per_owner
        .into_iter()
        .enumerate()
        .filter(|(_, parts)| !parts.is_empty())
        .map(|(owner, parts)| {
            let shard = shard.clone();
            glommio::spawn_local(async move {
                let fallback: Vec<_> = parts.iter().map(|p| p.slot).collect();
                match shard
                    .call(owner, move |owner| produce_on_owner(owner, parts, durable))
                    .await
                {
                    Ok(results) => results,
                    Err(_) => fallback
                        .into_iter()
                        .map(|slot| (slot, Err(ErrorCode::NotLeaderOrFollower)))
                        .collect(),
                }
            })
        })
        .collect();
    for results in join_all(calls).await {
        for ((t, p), result) in results {
            let out = &mut responses[t].partition_responses[p];
            match result {
                Ok(appended) => {
                    out.base_offset = appended.base_offset;
                    out.log_start_offset = appended.log_start_offset;
                }
                Err(code) => out.error_code = code.code(),
            }
        }
    }
    respond(acks, responses)
}

fn respond(acks: i16, responses: Vec<TopicProduceResponse>) -> Option<ProduceResponse> {
    (acks != 0).then(|| ProduceResponse {
        responses,
        ..Default::default()
    })
}

type PartResult = ((usize, usize), Result<Appended, ErrorCode>);

/// Runs on the owner shard: appends each partition's batches. Partitions are
/// appended concurrently so they share the shard's group commit.
async fn produce_on_owner(shard: Rc<Shard>, parts: Vec<Part>, durable: bool) -> Vec<PartResult> {
    let tasks: Vec<_> = parts
        .into_iter()
        .map(|part| {
            let partition = shard.partitions.get(&part.topic, part.index);
            glommio::spawn_local(async move {
                let result = match (partition, part.records) {
                    (None, _) => Err(ErrorCode::UnknownTopicOrPartition),
                    (Some(_), None) => Err(ErrorCode::CorruptMessage),
                    (Some(partition), Some(records)) => partition.produce(records, durable).await,
                };
                if let Err(code) = result {
                    tracing::debug!(topic = %part.topic, partition = part.index, %code, "produce refused");
                }
                (part.slot, result)
            })
        })
        .collect();
    join_all(tasks).await
}
