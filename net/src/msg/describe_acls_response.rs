//! DescribeAcls response bodies, versions 0-3.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeAclsResponse {
        throttle_time_ms: i32 [0, 3] = 0,
        error_code: i16 [0, 3] = 0,
        error_message: Option<String> [0, 3] = Some(Default::default()),
        resources: Vec<DescribeAclsResource> [0, 3] = Default::default(),
    }
}

message! {
    pub struct AclDescription {
        principal: String [0, 3] = Default::default(),
        host: String [0, 3] = Default::default(),
        operation: i8 [0, 3] = 0,
        permission_type: i8 [0, 3] = 0,
    }
}

message! {
    pub struct DescribeAclsResource {
        resource_type: i8 [0, 3] = 0,
        resource_name: String [0, 3] = Default::default(),
        pattern_type: i8 [1, 3] = 3,
        acls: Vec<AclDescription> [0, 3] = Default::default(),
    }
}
