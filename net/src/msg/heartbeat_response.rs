//! Heartbeat response bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The Heartbeat response.
    pub struct HeartbeatResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [1, 4] = 0,
        /// The error code, or 0 if there was no error.
        error_code: i16 [0, 4] = 0,
    }
}
