//! OffsetCommit request bodies, versions 2-8.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The OffsetCommit request.
    pub struct OffsetCommitRequest {
        /// The unique group identifier.
        group_id: String [2, 8] = Default::default(),
        /// The generation of the group if using the classic group protocol or the member epoch if
        /// using the consumer protocol.
        generation_id_or_member_epoch: i32 [2, 8] = -1,
        /// The member ID assigned by the group coordinator.
        member_id: String [2, 8] = Default::default(),
        /// The unique identifier of the consumer instance provided by end user.
        group_instance_id: Option<String> [7, 8] = None,
        /// The time period in ms to retain the offset.
        retention_time_ms: i64 [2, 4] = -1,
        /// The topics to commit offsets for.
        topics: Vec<OffsetCommitRequestTopic> [2, 8] = Default::default(),
    }
}

message! {
    pub struct OffsetCommitRequestPartition {
        /// The partition index.
        partition_index: i32 [2, 8] = 0,
        /// The message offset to be committed.
        committed_offset: i64 [2, 8] = 0,
        /// The leader epoch of this partition.
        committed_leader_epoch: i32 [6, 8] = -1,
        /// Any associated metadata the client wants to keep.
        committed_metadata: Option<String> [2, 8] = Some(Default::default()),
    }
}

message! {
    pub struct OffsetCommitRequestTopic {
        /// The topic name.
        name: String [2, 8] = Default::default(),
        /// Each partition to commit offsets for.
        partitions: Vec<OffsetCommitRequestPartition> [2, 8] = Default::default(),
    }
}
