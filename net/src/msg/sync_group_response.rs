//! SyncGroup response bodies, versions 0-5.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct SyncGroupResponse {
        throttle_time_ms: i32 [1, 5] = 0,
        error_code: i16 [0, 5] = 0,
        protocol_type: Option<String> [5, 5] = None,
        protocol_name: Option<String> [5, 5] = None,
        assignment: Bytes [0, 5] = Default::default(),
    }
}
