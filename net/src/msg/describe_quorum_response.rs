//! DescribeQuorum response bodies, versions 0-1.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeQuorumResponse {
        error_code: i16 [0, 1] = 0,
        topics: Vec<TopicData> [0, 1] = Default::default(),
    }
}

message! {
    pub struct PartitionData {
        partition_index: i32 [0, 1] = 0,
        error_code: i16 [0, 1] = 0,
        leader_id: i32 [0, 1] = 0,
        leader_epoch: i32 [0, 1] = 0,
        high_watermark: i64 [0, 1] = 0,
        current_voters: Vec<ReplicaState> [0, 1] = Default::default(),
        observers: Vec<ReplicaState> [0, 1] = Default::default(),
    }
}

message! {
    pub struct ReplicaState {
        replica_id: i32 [0, 1] = 0,
        log_end_offset: i64 [0, 1] = 0,
        last_fetch_timestamp: i64 [1, 1] = -1,
        last_caught_up_timestamp: i64 [1, 1] = -1,
    }
}

message! {
    pub struct TopicData {
        topic_name: String [0, 1] = Default::default(),
        partitions: Vec<PartitionData> [0, 1] = Default::default(),
    }
}
