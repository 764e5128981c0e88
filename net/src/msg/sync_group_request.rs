//! SyncGroup request bodies, versions 0-5.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct SyncGroupRequest {
        group_id: String [0, 5] = Default::default(),
        generation_id: i32 [0, 5] = 0,
        member_id: String [0, 5] = Default::default(),
        group_instance_id: Option<String> [3, 5] = None,
        protocol_type: Option<String> [5, 5] = None,
        protocol_name: Option<String> [5, 5] = None,
        assignments: Vec<SyncGroupRequestAssignment> [0, 5] = Default::default(),
    }
}

message! {
    pub struct SyncGroupRequestAssignment {
        member_id: String [0, 5] = Default::default(),
        assignment: Bytes [0, 5] = Default::default(),
    }
}
