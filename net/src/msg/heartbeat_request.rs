//! Heartbeat request bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct HeartbeatRequest {
        group_id: String [0, 4] = Default::default(),
        generation_id: i32 [0, 4] = 0,
        member_id: String [0, 4] = Default::default(),
        group_instance_id: Option<String> [3, 4] = None,
    }
}
