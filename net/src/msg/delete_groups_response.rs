//! DeleteGroups response bodies, versions 0-2.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DeleteGroupsResponse {
        throttle_time_ms: i32 [0, 2] = 0,
        results: Vec<DeletableGroupResult> [0, 2] = Default::default(),
    }
}

message! {
    pub struct DeletableGroupResult {
        group_id: String [0, 2] = Default::default(),
        error_code: i16 [0, 2] = 0,
    }
}
