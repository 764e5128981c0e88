//! DescribeGroups request bodies, versions 0-5.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeGroupsRequest {
        groups: Vec<String> [0, 5] = Default::default(),
        include_authorized_operations: bool [3, 5] = false,
    }
}
