//! Metadata response bodies, versions 0-12.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct MetadataResponse {
        throttle_time_ms: i32 [3, 12] = 0,
        brokers: Vec<MetadataResponseBroker> [0, 12] = Default::default(),
        cluster_id: Option<String> [2, 12] = None,
        controller_id: i32 [1, 12] = -1,
        topics: Vec<MetadataResponseTopic> [0, 12] = Default::default(),
        cluster_authorized_operations: i32 [8, 10] = -2147483648,
    }
}

message! {
    pub struct MetadataResponseBroker {
        node_id: i32 [0, 12] = 0,
        host: String [0, 12] = Default::default(),
        port: i32 [0, 12] = 0,
        rack: Option<String> [1, 12] = None,
    }
}

message! {
    pub struct MetadataResponsePartition {
        error_code: i16 [0, 12] = 0,
        partition_index: i32 [0, 12] = 0,
        leader_id: i32 [0, 12] = 0,
        leader_epoch: i32 [7, 12] = -1,
        replica_nodes: Vec<i32> [0, 12] = Default::default(),
        isr_nodes: Vec<i32> [0, 12] = Default::default(),
        offline_replicas: Vec<i32> [5, 12] = Default::default(),
    }
}

message! {
    pub struct MetadataResponseTopic {
        error_code: i16 [0, 12] = 0,
        name: Option<String> [0, 12] = Some(Default::default()),
        topic_id: Uuid [10, 12] = Uuid::NIL,
        is_internal: bool [1, 12] = false,
        partitions: Vec<MetadataResponsePartition> [0, 12] = Default::default(),
        topic_authorized_operations: i32 [8, 12] = -2147483648,
    }
}
