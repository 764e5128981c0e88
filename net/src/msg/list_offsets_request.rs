//! ListOffsets request bodies, versions 1-7.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct ListOffsetsRequest {
        replica_id: i32 [1, 7] = 0,
        isolation_level: i8 [2, 7] = 0,
        topics: Vec<ListOffsetsTopic> [1, 7] = Default::default(),
    }
}

message! {
    pub struct ListOffsetsPartition {
        partition_index: i32 [1, 7] = 0,
        current_leader_epoch: i32 [4, 7] = -1,
        timestamp: i64 [1, 7] = 0,
    }
}

message! {
    pub struct ListOffsetsTopic {
        name: String [1, 7] = Default::default(),
        partitions: Vec<ListOffsetsPartition> [1, 7] = Default::default(),
    }
}
