//! OffsetDelete request bodies, version 0.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct OffsetDeleteRequest {
        group_id: String [0, 0] = Default::default(),
        topics: Vec<OffsetDeleteRequestTopic> [0, 0] = Default::default(),
    }
}

message! {
    pub struct OffsetDeleteRequestPartition {
        partition_index: i32 [0, 0] = 0,
    }
}

message! {
    pub struct OffsetDeleteRequestTopic {
        name: String [0, 0] = Default::default(),
        partitions: Vec<OffsetDeleteRequestPartition> [0, 0] = Default::default(),
    }
}
