//! ListGroups response bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The ListGroups response.
    pub struct ListGroupsResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [1, 4] = 0,
        /// The error code, or 0 if there was no error.
        error_code: i16 [0, 4] = 0,
        /// Each group in the response.
        groups: Vec<ListedGroup> [0, 4] = Default::default(),
    }
}

message! {
    pub struct ListedGroup {
        /// The group ID.
        group_id: String [0, 4] = Default::default(),
        /// The group protocol type.
        protocol_type: String [0, 4] = Default::default(),
        /// The group state name.
        group_state: String [4, 4] = Default::default(),
    }
}
