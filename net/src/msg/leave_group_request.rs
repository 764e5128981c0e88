//! LeaveGroup request bodies, versions 0-5.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The LeaveGroup request.
    pub struct LeaveGroupRequest {
        /// The ID of the group to leave.
        group_id: String [0, 5] = Default::default(),
        /// The member ID to remove from the group.
        member_id: String [0, 2] = Default::default(),
        /// List of leaving member identities.
        members: Vec<MemberIdentity> [3, 5] = Default::default(),
    }
}

message! {
    pub struct MemberIdentity {
        /// The member ID to remove from the group.
        member_id: String [3, 5] = Default::default(),
        /// The group instance ID to remove from the group.
        group_instance_id: Option<String> [3, 5] = None,
        /// The reason why the member left the group.
        reason: Option<String> [5, 5] = None,
    }
}
