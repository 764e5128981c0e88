//! AlterPartitionReassignments response bodies, version 0.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct AlterPartitionReassignmentsResponse {
        throttle_time_ms: i32 [0, 0] = 0,
        error_code: i16 [0, 0] = 0,
        error_message: Option<String> [0, 0] = Some(Default::default()),
        responses: Vec<ReassignableTopicResponse> [0, 0] = Default::default(),
    }
}

message! {
    pub struct ReassignablePartitionResponse {
        partition_index: i32 [0, 0] = 0,
        error_code: i16 [0, 0] = 0,
        error_message: Option<String> [0, 0] = Some(Default::default()),
    }
}

message! {
    pub struct ReassignableTopicResponse {
        name: String [0, 0] = Default::default(),
        partitions: Vec<ReassignablePartitionResponse> [0, 0] = Default::default(),
    }
}
