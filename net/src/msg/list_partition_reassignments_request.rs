//! ListPartitionReassignments request bodies, version 0.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct ListPartitionReassignmentsRequest {
        timeout_ms: i32 [0, 0] = 60000,
        topics: Option<Vec<ListPartitionReassignmentsTopics>> [0, 0] = None,
    }
}

message! {
    pub struct ListPartitionReassignmentsTopics {
        name: String [0, 0] = Default::default(),
        partition_indexes: Vec<i32> [0, 0] = Default::default(),
    }
}
