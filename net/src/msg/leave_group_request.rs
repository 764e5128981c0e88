//! LeaveGroup request bodies, versions 0-5.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct LeaveGroupRequest {
        group_id: String [0, 5] = Default::default(),
        member_id: String [0, 2] = Default::default(),
        members: Vec<MemberIdentity> [3, 5] = Default::default(),
    }
}

message! {
    pub struct MemberIdentity {
        member_id: String [3, 5] = Default::default(),
        group_instance_id: Option<String> [3, 5] = None,
        reason: Option<String> [5, 5] = None,
    }
}
