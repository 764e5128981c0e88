//! ListOffsets response bodies, versions 1-7.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct ListOffsetsResponse {
        throttle_time_ms: i32 [2, 7] = 0,
        topics: Vec<ListOffsetsTopicResponse> [1, 7] = Default::default(),
    }
}

message! {
    pub struct ListOffsetsPartitionResponse {
        partition_index: i32 [1, 7] = 0,
        error_code: i16 [1, 7] = 0,
        timestamp: i64 [1, 7] = -1,
        offset: i64 [1, 7] = -1,
        leader_epoch: i32 [4, 7] = -1,
    }
}

message! {
    pub struct ListOffsetsTopicResponse {
        name: String [1, 7] = Default::default(),
        partitions: Vec<ListOffsetsPartitionResponse> [1, 7] = Default::default(),
    }
}
