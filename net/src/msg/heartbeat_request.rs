//! Heartbeat request bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The Heartbeat request.
    pub struct HeartbeatRequest {
        /// The group id.
        group_id: String [0, 4] = Default::default(),
        /// The generation of the group.
        generation_id: i32 [0, 4] = 0,
        /// The member ID.
        member_id: String [0, 4] = Default::default(),
        /// The unique identifier of the consumer instance provided by end user.
        group_instance_id: Option<String> [3, 4] = None,
    }
}
