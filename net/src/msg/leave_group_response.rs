//! LeaveGroup response bodies, versions 0-5.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The LeaveGroup response.
    pub struct LeaveGroupResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [1, 5] = 0,
        /// The error code, or 0 if there was no error.
        error_code: i16 [0, 5] = 0,
        /// List of leaving member responses.
        members: Vec<MemberResponse> [3, 5] = Default::default(),
    }
}

message! {
    pub struct MemberResponse {
        /// The member ID to remove from the group.
        member_id: String [3, 5] = Default::default(),
        /// The group instance ID to remove from the group.
        group_instance_id: Option<String> [3, 5] = Some(Default::default()),
        /// The error code, or 0 if there was no error.
        error_code: i16 [3, 5] = 0,
    }
}
