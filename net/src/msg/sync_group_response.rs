//! SyncGroup response bodies, versions 0-5.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The SyncGroup response.
    pub struct SyncGroupResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [1, 5] = 0,
        /// The error code, or 0 if there was no error.
        error_code: i16 [0, 5] = 0,
        /// The group protocol type.
        protocol_type: Option<String> [5, 5] = None,
        /// The group protocol name.
        protocol_name: Option<String> [5, 5] = None,
        /// The member assignment.
        assignment: Bytes [0, 5] = Default::default(),
    }
}
