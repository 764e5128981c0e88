//! DescribeAcls request bodies, versions 0-3.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeAclsRequest {
        resource_type_filter: i8 [0, 3] = 0,
        resource_name_filter: Option<String> [0, 3] = Some(Default::default()),
        pattern_type_filter: i8 [1, 3] = 3,
        principal_filter: Option<String> [0, 3] = Some(Default::default()),
        host_filter: Option<String> [0, 3] = Some(Default::default()),
        operation: i8 [0, 3] = 0,
        permission_type: i8 [0, 3] = 0,
    }
}
