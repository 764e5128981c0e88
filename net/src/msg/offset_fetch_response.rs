//! OffsetFetch response bodies, versions 1-7.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The OffsetFetch response.
    pub struct OffsetFetchResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [3, 7] = 0,
        /// The responses per topic.
        topics: Vec<OffsetFetchResponseTopic> [1, 7] = Default::default(),
        /// The top-level error code, or 0 if there was no error.
        error_code: i16 [2, 7] = 0,
    }
}

message! {
    pub struct OffsetFetchResponsePartition {
        /// The partition index.
        partition_index: i32 [1, 7] = 0,
        /// The committed message offset.
        committed_offset: i64 [1, 7] = 0,
        /// The leader epoch.
        committed_leader_epoch: i32 [5, 7] = -1,
        /// The partition metadata.
        metadata: Option<String> [1, 7] = Some(Default::default()),
        /// The error code, or 0 if there was no error.
        error_code: i16 [1, 7] = 0,
    }
}

message! {
    pub struct OffsetFetchResponseTopic {
        /// The topic name.
        name: String [1, 7] = Default::default(),
        /// The responses per partition.
        partitions: Vec<OffsetFetchResponsePartition> [1, 7] = Default::default(),
    }
}
