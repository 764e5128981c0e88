//! ListOffsets response bodies, versions 1-7.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The ListOffsets response.
    pub struct ListOffsetsResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [2, 7] = 0,
        /// Each topic in the response.
        topics: Vec<ListOffsetsTopicResponse> [1, 7] = Default::default(),
    }
}

message! {
    pub struct ListOffsetsPartitionResponse {
        /// The partition index.
        partition_index: i32 [1, 7] = 0,
        /// The partition error code, or 0 if there was no error.
        error_code: i16 [1, 7] = 0,
        /// The timestamp associated with the returned offset.
        timestamp: i64 [1, 7] = -1,
        /// The returned offset.
        offset: i64 [1, 7] = -1,
        /// The leader epoch associated with the returned offset.
        leader_epoch: i32 [4, 7] = -1,
    }
}

message! {
    pub struct ListOffsetsTopicResponse {
        /// The topic name.
        name: String [1, 7] = Default::default(),
        /// Each partition in the response.
        partitions: Vec<ListOffsetsPartitionResponse> [1, 7] = Default::default(),
    }
}
