//! Metadata response bodies, versions 0-12.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The Metadata response.
    pub struct MetadataResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [3, 12] = 0,
        /// A list of brokers present in the cluster.
        brokers: Vec<MetadataResponseBroker> [0, 12] = Default::default(),
        /// The cluster ID that responding broker belongs to.
        cluster_id: Option<String> [2, 12] = None,
        /// The ID of the controller broker.
        controller_id: i32 [1, 12] = -1,
        /// Each topic in the response.
        topics: Vec<MetadataResponseTopic> [0, 12] = Default::default(),
        /// 32-bit bitfield to represent authorized operations for this cluster.
        cluster_authorized_operations: i32 [8, 10] = -2147483648,
    }
}

message! {
    pub struct MetadataResponseBroker {
        /// The broker ID.
        node_id: i32 [0, 12] = 0,
        /// The broker hostname.
        host: String [0, 12] = Default::default(),
        /// The broker port.
        port: i32 [0, 12] = 0,
        /// The rack of the broker, or null if it has not been assigned to a rack.
        rack: Option<String> [1, 12] = None,
    }
}

message! {
    pub struct MetadataResponsePartition {
        /// The partition error, or 0 if there was no error.
        error_code: i16 [0, 12] = 0,
        /// The partition index.
        partition_index: i32 [0, 12] = 0,
        /// The ID of the leader broker.
        leader_id: i32 [0, 12] = 0,
        /// The leader epoch of this partition.
        leader_epoch: i32 [7, 12] = -1,
        /// The set of all nodes that host this partition.
        replica_nodes: Vec<i32> [0, 12] = Default::default(),
        /// The set of nodes that are in sync with the leader for this partition.
        isr_nodes: Vec<i32> [0, 12] = Default::default(),
        /// The set of offline replicas of this partition.
        offline_replicas: Vec<i32> [5, 12] = Default::default(),
    }
}

message! {
    pub struct MetadataResponseTopic {
        /// The topic error, or 0 if there was no error.
        error_code: i16 [0, 12] = 0,
        /// The topic name. Null for non-existing topics queried by ID. This is never null when
        /// ErrorCode is zero. One of Name and TopicId is always populated.
        name: Option<String> [0, 12] = Some(Default::default()),
        /// The topic id. Zero for non-existing topics queried by name. This is never zero when
        /// ErrorCode is zero. One of Name and TopicId is always populated.
        topic_id: Uuid [10, 12] = Uuid::NIL,
        /// True if the topic is internal.
        is_internal: bool [1, 12] = false,
        /// Each partition in the topic.
        partitions: Vec<MetadataResponsePartition> [0, 12] = Default::default(),
        /// 32-bit bitfield to represent authorized operations for this topic.
        topic_authorized_operations: i32 [8, 12] = -2147483648,
    }
}
