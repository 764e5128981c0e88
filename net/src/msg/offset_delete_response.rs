//! OffsetDelete response bodies, version 0.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct OffsetDeleteResponse {
        error_code: i16 [0, 0] = 0,
        throttle_time_ms: i32 [0, 0] = 0,
        topics: Vec<OffsetDeleteResponseTopic> [0, 0] = Default::default(),
    }
}

message! {
    pub struct OffsetDeleteResponsePartition {
        partition_index: i32 [0, 0] = 0,
        error_code: i16 [0, 0] = 0,
    }
}

message! {
    pub struct OffsetDeleteResponseTopic {
        name: String [0, 0] = Default::default(),
        partitions: Vec<OffsetDeleteResponsePartition> [0, 0] = Default::default(),
    }
}
