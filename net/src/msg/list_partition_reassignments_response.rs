//! ListPartitionReassignments response bodies, version 0.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct ListPartitionReassignmentsResponse {
        throttle_time_ms: i32 [0, 0] = 0,
        error_code: i16 [0, 0] = 0,
        error_message: Option<String> [0, 0] = Some(Default::default()),
        topics: Vec<OngoingTopicReassignment> [0, 0] = Default::default(),
    }
}

message! {
    pub struct OngoingPartitionReassignment {
        partition_index: i32 [0, 0] = 0,
        replicas: Vec<i32> [0, 0] = Default::default(),
        adding_replicas: Vec<i32> [0, 0] = Default::default(),
        removing_replicas: Vec<i32> [0, 0] = Default::default(),
    }
}

message! {
    pub struct OngoingTopicReassignment {
        name: String [0, 0] = Default::default(),
        partitions: Vec<OngoingPartitionReassignment> [0, 0] = Default::default(),
    }
}
