//! AlterConfigs response bodies, versions 0-2.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct AlterConfigsResponse {
        throttle_time_ms: i32 [0, 2] = 0,
        responses: Vec<AlterConfigsResourceResponse> [0, 2] = Default::default(),
    }
}

message! {
    pub struct AlterConfigsResourceResponse {
        error_code: i16 [0, 2] = 0,
        error_message: Option<String> [0, 2] = Some(Default::default()),
        resource_type: i8 [0, 2] = 0,
        resource_name: String [0, 2] = Default::default(),
    }
}
