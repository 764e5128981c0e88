//! JoinGroup response bodies, versions 0-9.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct JoinGroupResponse {
        throttle_time_ms: i32 [2, 9] = 0,
        error_code: i16 [0, 9] = 0,
        generation_id: i32 [0, 9] = -1,
        protocol_type: Option<String> [7, 9] = None,
        protocol_name: Option<String> [0, 9] = Some(Default::default()),
        leader: String [0, 9] = Default::default(),
        skip_assignment: bool [9, 9] = false,
        member_id: String [0, 9] = Default::default(),
        members: Vec<JoinGroupResponseMember> [0, 9] = Default::default(),
    }
}

message! {
    pub struct JoinGroupResponseMember {
        member_id: String [0, 9] = Default::default(),
        group_instance_id: Option<String> [5, 9] = None,
        metadata: Bytes [0, 9] = Default::default(),
    }
}
