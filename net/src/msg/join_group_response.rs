//! JoinGroup response bodies, versions 0-9.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The JoinGroup response.
    pub struct JoinGroupResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [2, 9] = 0,
        /// The error code, or 0 if there was no error.
        error_code: i16 [0, 9] = 0,
        /// The generation ID of the group.
        generation_id: i32 [0, 9] = -1,
        /// The group protocol name.
        protocol_type: Option<String> [7, 9] = None,
        /// The group protocol selected by the coordinator.
        protocol_name: Option<String> [0, 9] = Some(Default::default()),
        /// The leader of the group.
        leader: String [0, 9] = Default::default(),
        /// True if the leader must skip running the assignment.
        skip_assignment: bool [9, 9] = false,
        /// The member ID assigned by the group coordinator.
        member_id: String [0, 9] = Default::default(),
        /// The group members.
        members: Vec<JoinGroupResponseMember> [0, 9] = Default::default(),
    }
}

message! {
    pub struct JoinGroupResponseMember {
        /// The group member ID.
        member_id: String [0, 9] = Default::default(),
        /// The unique identifier of the consumer instance provided by end user.
        group_instance_id: Option<String> [5, 9] = None,
        /// The group member metadata.
        metadata: Bytes [0, 9] = Default::default(),
    }
}
