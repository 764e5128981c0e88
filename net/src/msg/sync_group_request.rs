//! SyncGroup request bodies, versions 0-5.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The SyncGroup request.
    pub struct SyncGroupRequest {
        /// The unique group identifier.
        group_id: String [0, 5] = Default::default(),
        /// The generation of the group.
        generation_id: i32 [0, 5] = 0,
        /// The member ID assigned by the group.
        member_id: String [0, 5] = Default::default(),
        /// The unique identifier of the consumer instance provided by end user.
        group_instance_id: Option<String> [3, 5] = None,
        /// The group protocol type.
        protocol_type: Option<String> [5, 5] = None,
        /// The group protocol name.
        protocol_name: Option<String> [5, 5] = None,
        /// Each assignment.
        assignments: Vec<SyncGroupRequestAssignment> [0, 5] = Default::default(),
    }
}

message! {
    pub struct SyncGroupRequestAssignment {
        /// The ID of the member to assign.
        member_id: String [0, 5] = Default::default(),
        /// The member assignment.
        assignment: Bytes [0, 5] = Default::default(),
    }
}
