//! JoinGroup request bodies, versions 0-9.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct JoinGroupRequest {
        group_id: String [0, 9] = Default::default(),
        session_timeout_ms: i32 [0, 9] = 0,
        rebalance_timeout_ms: i32 [1, 9] = -1,
        member_id: String [0, 9] = Default::default(),
        group_instance_id: Option<String> [5, 9] = None,
        protocol_type: String [0, 9] = Default::default(),
        protocols: Vec<JoinGroupRequestProtocol> [0, 9] = Default::default(),
        reason: Option<String> [8, 9] = None,
    }
}

message! {
    pub struct JoinGroupRequestProtocol {
        name: String [0, 9] = Default::default(),
        metadata: Bytes [0, 9] = Default::default(),
    }
}
