//! CreateAcls request bodies, versions 0-3.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct CreateAclsRequest {
        creations: Vec<AclCreation> [0, 3] = Default::default(),
    }
}

message! {
    pub struct AclCreation {
        resource_type: i8 [0, 3] = 0,
        resource_name: String [0, 3] = Default::default(),
        resource_pattern_type: i8 [1, 3] = 3,
        principal: String [0, 3] = Default::default(),
        host: String [0, 3] = Default::default(),
        operation: i8 [0, 3] = 0,
        permission_type: i8 [0, 3] = 0,
    }
}
