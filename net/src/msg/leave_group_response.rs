//! LeaveGroup response bodies, versions 0-5.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct LeaveGroupResponse {
        throttle_time_ms: i32 [1, 5] = 0,
        error_code: i16 [0, 5] = 0,
        members: Vec<MemberResponse> [3, 5] = Default::default(),
    }
}

message! {
    pub struct MemberResponse {
        member_id: String [3, 5] = Default::default(),
        group_instance_id: Option<String> [3, 5] = Some(Default::default()),
        error_code: i16 [3, 5] = 0,
    }
}
