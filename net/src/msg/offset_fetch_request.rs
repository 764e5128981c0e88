//! OffsetFetch request bodies, versions 1-7.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The OffsetFetch request.
    pub struct OffsetFetchRequest {
        /// The group to fetch offsets for.
        group_id: String [1, 7] = Default::default(),
        /// Each topic we would like to fetch offsets for, or null to fetch offsets for all topics.
        topics: Option<Vec<OffsetFetchRequestTopic>> [1, 7] = Some(Default::default()),
        /// Whether broker should hold on returning unstable offsets but set a retriable error code
        /// for the partitions.
        require_stable: bool [7, 7] = false,
    }
}

message! {
    pub struct OffsetFetchRequestTopic {
        /// The topic name.
        name: String [1, 7] = Default::default(),
        /// The partition indexes we would like to fetch offsets for.
        partition_indexes: Vec<i32> [1, 7] = Default::default(),
    }
}
