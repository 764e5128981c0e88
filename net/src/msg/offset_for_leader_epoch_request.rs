//! OffsetForLeaderEpoch request bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct OffsetForLeaderEpochRequest {
        replica_id: i32 [3, 4] = -2,
        topics: Vec<OffsetForLeaderTopic> [0, 4] = Default::default(),
    }
}

message! {
    pub struct OffsetForLeaderPartition {
        partition: i32 [0, 4] = 0,
        current_leader_epoch: i32 [2, 4] = -1,
        leader_epoch: i32 [0, 4] = 0,
    }
}

message! {
    pub struct OffsetForLeaderTopic {
        topic: String [0, 4] = Default::default(),
        partitions: Vec<OffsetForLeaderPartition> [0, 4] = Default::default(),
    }
}
