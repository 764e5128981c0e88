//! OffsetFetch response bodies, versions 1-7.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct OffsetFetchResponse {
        throttle_time_ms: i32 [3, 7] = 0,
        topics: Vec<OffsetFetchResponseTopic> [1, 7] = Default::default(),
        error_code: i16 [2, 7] = 0,
    }
}

message! {
    pub struct OffsetFetchResponsePartition {
        partition_index: i32 [1, 7] = 0,
        committed_offset: i64 [1, 7] = 0,
        committed_leader_epoch: i32 [5, 7] = -1,
        metadata: Option<String> [1, 7] = Some(Default::default()),
        error_code: i16 [1, 7] = 0,
    }
}

message! {
    pub struct OffsetFetchResponseTopic {
        name: String [1, 7] = Default::default(),
        partitions: Vec<OffsetFetchResponsePartition> [1, 7] = Default::default(),
    }
}
