//! IncrementalAlterConfigs response bodies, versions 0-1.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct IncrementalAlterConfigsResponse {
        throttle_time_ms: i32 [0, 1] = 0,
        responses: Vec<AlterConfigsResourceResponse> [0, 1] = Default::default(),
    }
}

message! {
    pub struct AlterConfigsResourceResponse {
        error_code: i16 [0, 1] = 0,
        error_message: Option<String> [0, 1] = Some(Default::default()),
        resource_type: i8 [0, 1] = 0,
        resource_name: String [0, 1] = Default::default(),
    }
}
