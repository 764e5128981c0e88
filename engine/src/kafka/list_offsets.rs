//! ListOffsets: earliest (-2), latest (-1) or the first offset whose batch
//! holds a timestamp at or after the one asked (batch granularity).

use std::rc::Rc;

use net::msg::list_offsets_request::ListOffsetsRequest;
use net::msg::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use net::ErrorCode;

use super::join_all;
use super::route::{locate, ByOwner};
use crate::partition::storage_error_code;
use crate::shard::Shard;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

/// One partition to look up, routed to its owner.
struct Part {
    topic: String,
    index: i32,
    timestamp: i64,
}

/// (timestamp, offset, leader epoch) for the query.
type Found = Result<(i64, i64, i32), ErrorCode>;

pub async fn handle(shard: &Rc<Shard>, request: ListOffsetsRequest) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    let mut by_owner = ByOwner::new(shard.metadata.shard_count());
    for (t, topic) in request.topics.into_iter().enumerate() {
        let mut out = ListOffsetsTopicResponse {
            name: topic.name.clone(),
            partitions: Vec::with_capacity(topic.partitions.len()),
        };
        for (p, entry) in topic.partitions.into_iter().enumerate() {
            let located = locate(shard, &topic.name, entry.partition_index);
            out.partitions.push(ListOffsetsPartitionResponse {
                partition_index: entry.partition_index,
                error_code: located.err().map_or(0, |e| e.error.code()),
                ..Default::default()
            });
            if let Ok(owner) = located {
                let part = Part {
                    topic: topic.name.clone(),
                    index: entry.partition_index,
                    timestamp: entry.timestamp,
                };
                by_owner.push(owner, (t, p), part);
            }
        }
        topics.push(out);
    }
    let found = by_owner
        .send(shard, lookup_on_owner, Err(ErrorCode::NotLeaderOrFollower))
        .await
        .join()
        .await;
    for ((t, p), result) in found {
        let out = &mut topics[t].partitions[p];
        match result {
            Ok((timestamp, offset, leader_epoch)) => {
                out.error_code = 0;
                out.timestamp = timestamp;
                out.offset = offset;
                out.leader_epoch = leader_epoch;
            }
            Err(code) => out.error_code = code.code(),
        }
    }
    ListOffsetsResponse {
        topics,
        ..Default::default()
    }
}

/// Runs on the owner: every lookup at once (a timestamp lookup may read
/// the disk), answers in the order given.
async fn lookup_on_owner(shard: Rc<Shard>, parts: Vec<Part>) -> Vec<Found> {
    let lookups: Vec<_> = parts
        .into_iter()
        .map(|part| {
            glommio::spawn_local(lookup(
                shard.clone(),
                part.topic,
                part.index,
                part.timestamp,
            ))
        })
        .collect();
    join_all(lookups).await
}

/// Runs on the owner: (timestamp, offset, leader epoch) for the query.
async fn lookup(shard: Rc<Shard>, topic: String, index: i32, timestamp: i64) -> Found {
    let partition = shard
        .partitions
        .get(&topic, index)
        .ok_or(ErrorCode::UnknownTopicOrPartition)?;
    let epoch = partition.leader_epoch();
    let (timestamp, offset) = match timestamp {
        LATEST => Ok((-1, partition.high_watermark())),
        EARLIEST => Ok((-1, partition.log_start_offset())),
        MAX_TIMESTAMP => Err(ErrorCode::UnsupportedVersion),
        t if t < 0 => Err(ErrorCode::InvalidRequest),
        t => match partition.offset_for_timestamp(t).await {
            Ok(Some((offset, max_timestamp))) => Ok((max_timestamp, offset)),
            // Nothing that recent: Kafka answers offset -1, timestamp -1.
            Ok(None) => Ok((-1, -1)),
            Err(e) => Err(storage_error_code(&e)),
        },
    }?;
    Ok((timestamp, offset, epoch))
}
