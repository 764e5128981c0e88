//! OffsetForLeaderEpoch response bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct OffsetForLeaderEpochResponse {
        throttle_time_ms: i32 [2, 4] = 0,
        topics: Vec<OffsetForLeaderTopicResult> [0, 4] = Default::default(),
    }
}

message! {
    pub struct EpochEndOffset {
        error_code: i16 [0, 4] = 0,
        partition: i32 [0, 4] = 0,
        leader_epoch: i32 [1, 4] = -1,
        end_offset: i64 [0, 4] = -1,
    }
}

message! {
    pub struct OffsetForLeaderTopicResult {
        topic: String [0, 4] = Default::default(),
        partitions: Vec<EpochEndOffset> [0, 4] = Default::default(),
    }
}
