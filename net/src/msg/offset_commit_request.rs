//! OffsetCommit request bodies, versions 2-8.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct OffsetCommitRequest {
        group_id: String [2, 8] = Default::default(),
        generation_id_or_member_epoch: i32 [2, 8] = -1,
        member_id: String [2, 8] = Default::default(),
        group_instance_id: Option<String> [7, 8] = None,
        retention_time_ms: i64 [2, 4] = -1,
        topics: Vec<OffsetCommitRequestTopic> [2, 8] = Default::default(),
    }
}

message! {
    pub struct OffsetCommitRequestPartition {
        partition_index: i32 [2, 8] = 0,
        committed_offset: i64 [2, 8] = 0,
        committed_leader_epoch: i32 [6, 8] = -1,
        committed_metadata: Option<String> [2, 8] = Some(Default::default()),
    }
}

message! {
    pub struct OffsetCommitRequestTopic {
        name: String [2, 8] = Default::default(),
        partitions: Vec<OffsetCommitRequestPartition> [2, 8] = Default::default(),
    }
}
