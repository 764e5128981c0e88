//! OffsetCommit response bodies, versions 2-8.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The OffsetCommit response.
    pub struct OffsetCommitResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [3, 8] = 0,
        /// The responses for each topic.
        topics: Vec<OffsetCommitResponseTopic> [2, 8] = Default::default(),
    }
}

message! {
    pub struct OffsetCommitResponsePartition {
        /// The partition index.
        partition_index: i32 [2, 8] = 0,
        /// The error code, or 0 if there was no error.
        error_code: i16 [2, 8] = 0,
    }
}

message! {
    pub struct OffsetCommitResponseTopic {
        /// The topic name.
        name: String [2, 8] = Default::default(),
        /// The responses for each partition in the topic.
        partitions: Vec<OffsetCommitResponsePartition> [2, 8] = Default::default(),
    }
}
