//! OffsetCommit response bodies, versions 2-8.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct OffsetCommitResponse {
        throttle_time_ms: i32 [3, 8] = 0,
        topics: Vec<OffsetCommitResponseTopic> [2, 8] = Default::default(),
    }
}

message! {
    pub struct OffsetCommitResponsePartition {
        partition_index: i32 [2, 8] = 0,
        error_code: i16 [2, 8] = 0,
    }
}

message! {
    pub struct OffsetCommitResponseTopic {
        name: String [2, 8] = Default::default(),
        partitions: Vec<OffsetCommitResponsePartition> [2, 8] = Default::default(),
    }
}
