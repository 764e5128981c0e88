//! DeleteGroups response bodies, versions 0-2.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The DeleteGroups response.
    pub struct DeleteGroupsResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [0, 2] = 0,
        /// The deletion results.
        results: Vec<DeletableGroupResult> [0, 2] = Default::default(),
    }
}

message! {
    pub struct DeletableGroupResult {
        /// The group id.
        group_id: String [0, 2] = Default::default(),
        /// The deletion error, or 0 if the deletion succeeded.
        error_code: i16 [0, 2] = 0,
    }
}
