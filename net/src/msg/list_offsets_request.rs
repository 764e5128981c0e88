//! ListOffsets request bodies, versions 1-7.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The ListOffsets request.
    pub struct ListOffsetsRequest {
        /// The broker ID of the requester, or -1 if this request is being made by a normal
        /// consumer.
        replica_id: i32 [1, 7] = 0,
        /// This setting controls the visibility of transactional records. Using READ_UNCOMMITTED
        /// (isolation_level = 0) makes all records visible. With READ_COMMITTED (isolation_level =
        /// 1), non-transactional and COMMITTED transactional records are visible. To be more
        /// concrete, READ_COMMITTED returns all data from offsets smaller than the current LSO
        /// (last stable offset), and enables the inclusion of the list of aborted transactions in
        /// the result, which allows consumers to discard ABORTED transactional records.
        isolation_level: i8 [2, 7] = 0,
        /// Each topic in the request.
        topics: Vec<ListOffsetsTopic> [1, 7] = Default::default(),
    }
}

message! {
    pub struct ListOffsetsPartition {
        /// The partition index.
        partition_index: i32 [1, 7] = 0,
        /// The current leader epoch.
        current_leader_epoch: i32 [4, 7] = -1,
        /// The current timestamp.
        timestamp: i64 [1, 7] = 0,
    }
}

message! {
    pub struct ListOffsetsTopic {
        /// The topic name.
        name: String [1, 7] = Default::default(),
        /// Each partition in the request.
        partitions: Vec<ListOffsetsPartition> [1, 7] = Default::default(),
    }
}
