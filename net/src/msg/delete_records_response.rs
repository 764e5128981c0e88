//! DeleteRecords response bodies, versions 0-2.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DeleteRecordsResponse {
        throttle_time_ms: i32 [0, 2] = 0,
        topics: Vec<DeleteRecordsTopicResult> [0, 2] = Default::default(),
    }
}

message! {
    pub struct DeleteRecordsPartitionResult {
        partition_index: i32 [0, 2] = 0,
        low_watermark: i64 [0, 2] = 0,
        error_code: i16 [0, 2] = 0,
    }
}

message! {
    pub struct DeleteRecordsTopicResult {
        name: String [0, 2] = Default::default(),
        partitions: Vec<DeleteRecordsPartitionResult> [0, 2] = Default::default(),
    }
}
