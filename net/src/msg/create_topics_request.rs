//! CreateTopics request bodies, versions 2-7.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The CreateTopics request.
    pub struct CreateTopicsRequest {
        /// The topics to create.
        topics: Vec<CreatableTopic> [2, 7] = Default::default(),
        /// How long to wait in milliseconds before timing out the request.
        timeout_ms: i32 [2, 7] = 60000,
        /// If true, check that the topics can be created as specified, but don't create anything.
        validate_only: bool [2, 7] = false,
    }
}

message! {
    pub struct CreatableReplicaAssignment {
        /// The partition index.
        partition_index: i32 [2, 7] = 0,
        /// The brokers to place the partition on.
        broker_ids: Vec<i32> [2, 7] = Default::default(),
    }
}

message! {
    pub struct CreatableTopic {
        /// The topic name.
        name: String [2, 7] = Default::default(),
        /// The number of partitions to create in the topic, or -1 if we are either specifying a
        /// manual partition assignment or using the default partitions.
        num_partitions: i32 [2, 7] = 0,
        /// The number of replicas to create for each partition in the topic, or -1 if we are either
        /// specifying a manual partition assignment or using the default replication factor.
        replication_factor: i16 [2, 7] = 0,
        /// The manual partition assignment, or the empty array if we are using automatic
        /// assignment.
        assignments: Vec<CreatableReplicaAssignment> [2, 7] = Default::default(),
        /// The custom topic configurations to set.
        configs: Vec<CreatableTopicConfig> [2, 7] = Default::default(),
    }
}

message! {
    pub struct CreatableTopicConfig {
        /// The configuration name.
        name: String [2, 7] = Default::default(),
        /// The configuration value.
        value: Option<String> [2, 7] = Some(Default::default()),
    }
}
