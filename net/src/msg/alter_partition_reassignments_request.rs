//! AlterPartitionReassignments request bodies, version 0.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct AlterPartitionReassignmentsRequest {
        timeout_ms: i32 [0, 0] = 60000,
        topics: Vec<ReassignableTopic> [0, 0] = Default::default(),
    }
}

message! {
    pub struct ReassignablePartition {
        partition_index: i32 [0, 0] = 0,
        replicas: Option<Vec<i32>> [0, 0] = None,
    }
}

message! {
    pub struct ReassignableTopic {
        name: String [0, 0] = Default::default(),
        partitions: Vec<ReassignablePartition> [0, 0] = Default::default(),
    }
}
