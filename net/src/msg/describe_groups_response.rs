//! DescribeGroups response bodies, versions 0-5.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The DescribeGroups response.
    pub struct DescribeGroupsResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [1, 5] = 0,
        /// Each described group.
        groups: Vec<DescribedGroup> [0, 5] = Default::default(),
    }
}

message! {
    pub struct DescribedGroup {
        /// The describe error, or 0 if there was no error.
        error_code: i16 [0, 5] = 0,
        /// The group ID string.
        group_id: String [0, 5] = Default::default(),
        /// The group state string, or the empty string.
        group_state: String [0, 5] = Default::default(),
        /// The group protocol type, or the empty string.
        protocol_type: String [0, 5] = Default::default(),
        /// The group protocol data, or the empty string.
        protocol_data: String [0, 5] = Default::default(),
        /// The group members.
        members: Vec<DescribedGroupMember> [0, 5] = Default::default(),
        /// 32-bit bitfield to represent authorized operations for this group.
        authorized_operations: i32 [3, 5] = -2147483648,
    }
}

message! {
    pub struct DescribedGroupMember {
        /// The member id.
        member_id: String [0, 5] = Default::default(),
        /// The unique identifier of the consumer instance provided by end user.
        group_instance_id: Option<String> [4, 5] = None,
        /// The client ID used in the member's latest join group request.
        client_id: String [0, 5] = Default::default(),
        /// The client host.
        client_host: String [0, 5] = Default::default(),
        /// The metadata corresponding to the current group protocol in use.
        member_metadata: Bytes [0, 5] = Default::default(),
        /// The current assignment provided by the group leader.
        member_assignment: Bytes [0, 5] = Default::default(),
    }
}
