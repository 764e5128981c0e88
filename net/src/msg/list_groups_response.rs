//! ListGroups response bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct ListGroupsResponse {
        throttle_time_ms: i32 [1, 4] = 0,
        error_code: i16 [0, 4] = 0,
        groups: Vec<ListedGroup> [0, 4] = Default::default(),
    }
}

message! {
    pub struct ListedGroup {
        group_id: String [0, 4] = Default::default(),
        protocol_type: String [0, 4] = Default::default(),
        group_state: String [4, 4] = Default::default(),
    }
}
