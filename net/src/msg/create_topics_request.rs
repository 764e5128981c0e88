//! CreateTopics request bodies, versions 2-7.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct CreateTopicsRequest {
        topics: Vec<CreatableTopic> [2, 7] = Default::default(),
        timeout_ms: i32 [2, 7] = 60000,
        validate_only: bool [2, 7] = false,
    }
}

message! {
    pub struct CreatableReplicaAssignment {
        partition_index: i32 [2, 7] = 0,
        broker_ids: Vec<i32> [2, 7] = Default::default(),
    }
}

message! {
    pub struct CreatableTopic {
        name: String [2, 7] = Default::default(),
        num_partitions: i32 [2, 7] = 0,
        replication_factor: i16 [2, 7] = 0,
        assignments: Vec<CreatableReplicaAssignment> [2, 7] = Default::default(),
        configs: Vec<CreatableTopicConfig> [2, 7] = Default::default(),
    }
}

message! {
    pub struct CreatableTopicConfig {
        name: String [2, 7] = Default::default(),
        value: Option<String> [2, 7] = Some(Default::default()),
    }
}
