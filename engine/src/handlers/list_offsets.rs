//! ListOffsets: earliest (-2), latest (-1) or the first offset whose batch
//! holds a timestamp at or after the one asked (batch granularity).

use std::rc::Rc;

use net::msg::list_offsets_request::ListOffsetsRequest;
use net::msg::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use net::ErrorCode;

use super::join_all;
use crate::partition::{storage_error_code, LEADER_EPOCH};
use crate::shard::Shard;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

pub async fn handle(shard: &Rc<Shard>, request: ListOffsetsRequest) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    let mut calls = Vec::new();
    for (t, topic) in request.topics.into_iter().enumerate() {
        let partitions = shard
            .catalogue
            .borrow()
            .topics
            .get(&topic.name)
            .map(|m| m.partitions);
        let mut out = ListOffsetsTopicResponse {
            name: topic.name.clone(),
            partitions: Vec::with_capacity(topic.partitions.len()),
        };
        for (p, entry) in topic.partitions.into_iter().enumerate() {
            out.partitions.push(ListOffsetsPartitionResponse {
                partition_index: entry.partition_index,
                error_code: ErrorCode::UnknownTopicOrPartition.code(),
                ..Default::default()
            });
            if partitions.is_some_and(|n| entry.partition_index >= 0 && entry.partition_index < n) {
                let owner = shard
                    .placement
                    .shard_for(&topic.name, entry.partition_index);
                let (name, index, timestamp) =
                    (topic.name.clone(), entry.partition_index, entry.timestamp);
                let shard = shard.clone();
                calls.push(glommio::spawn_local(async move {
                    let result = shard
                        .call(owner, move |owner| lookup(owner, name, index, timestamp))
                        .await
                        .unwrap_or(Err(ErrorCode::NotLeaderOrFollower));
                    ((t, p), result)
                }));
            }
        }
        topics.push(out);
    }
    for ((t, p), result) in join_all(calls).await {
        let out = &mut topics[t].partitions[p];
        match result {
            Ok((timestamp, offset)) => {
                out.error_code = 0;
                out.timestamp = timestamp;
                out.offset = offset;
                out.leader_epoch = LEADER_EPOCH;
            }
            Err(code) => out.error_code = code.code(),
        }
    }
    ListOffsetsResponse {
        topics,
        ..Default::default()
    }
}

/// Runs on the owner: (timestamp, offset) for the query.
async fn lookup(
    shard: Rc<Shard>,
    topic: String,
    index: i32,
    timestamp: i64,
) -> Result<(i64, i64), ErrorCode> {
    let partition = shard
        .partitions
        .get(&topic, index)
        .ok_or(ErrorCode::UnknownTopicOrPartition)?;
    let log = &partition.log;
    match timestamp {
        LATEST => Ok((-1, log.high_watermark())),
        EARLIEST => Ok((-1, log.log_start_offset())),
        MAX_TIMESTAMP => Err(ErrorCode::UnsupportedVersion),
        t if t < 0 => Err(ErrorCode::InvalidRequest),
        t => match log.offset_for_timestamp(t).await {
            Ok(Some((offset, max_timestamp))) => Ok((max_timestamp, offset)),
            // Nothing that recent: Kafka answers offset -1, timestamp -1.
            Ok(None) => Ok((-1, -1)),
            Err(e) => Err(storage_error_code(&e)),
        },
    }
}
