//! FindCoordinator response bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The FindCoordinator response.
    pub struct FindCoordinatorResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [1, 4] = 0,
        /// The error code, or 0 if there was no error.
        error_code: i16 [0, 3] = 0,
        /// The error message, or null if there was no error.
        error_message: Option<String> [1, 3] = Some(Default::default()),
        /// The node id.
        node_id: i32 [0, 3] = 0,
        /// The host name.
        host: String [0, 3] = Default::default(),
        /// The port.
        port: i32 [0, 3] = 0,
        /// Each coordinator result in the response.
        coordinators: Vec<Coordinator> [4, 4] = Default::default(),
    }
}

message! {
    pub struct Coordinator {
        /// The coordinator key.
        key: String [4, 4] = Default::default(),
        /// The node id.
        node_id: i32 [4, 4] = 0,
        /// The host name.
        host: String [4, 4] = Default::default(),
        /// The port.
        port: i32 [4, 4] = 0,
        /// The error code, or 0 if there was no error.
        error_code: i16 [4, 4] = 0,
        /// The error message, or null if there was no error.
        error_message: Option<String> [4, 4] = Some(Default::default()),
    }
}
