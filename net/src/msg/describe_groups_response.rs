//! DescribeGroups response bodies, versions 0-5.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeGroupsResponse {
        throttle_time_ms: i32 [1, 5] = 0,
        groups: Vec<DescribedGroup> [0, 5] = Default::default(),
    }
}

message! {
    pub struct DescribedGroup {
        error_code: i16 [0, 5] = 0,
        group_id: String [0, 5] = Default::default(),
        group_state: String [0, 5] = Default::default(),
        protocol_type: String [0, 5] = Default::default(),
        protocol_data: String [0, 5] = Default::default(),
        members: Vec<DescribedGroupMember> [0, 5] = Default::default(),
        authorized_operations: i32 [3, 5] = -2147483648,
    }
}

message! {
    pub struct DescribedGroupMember {
        member_id: String [0, 5] = Default::default(),
        group_instance_id: Option<String> [4, 5] = None,
        client_id: String [0, 5] = Default::default(),
        client_host: String [0, 5] = Default::default(),
        member_metadata: Bytes [0, 5] = Default::default(),
        member_assignment: Bytes [0, 5] = Default::default(),
    }
}
