//! CreateAcls response bodies, versions 0-3.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct CreateAclsResponse {
        throttle_time_ms: i32 [0, 3] = 0,
        results: Vec<AclCreationResult> [0, 3] = Default::default(),
    }
}

message! {
    pub struct AclCreationResult {
        error_code: i16 [0, 3] = 0,
        error_message: Option<String> [0, 3] = Some(Default::default()),
    }
}
