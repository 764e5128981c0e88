//! CreatePartitions response bodies, versions 0-3.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct CreatePartitionsResponse {
        throttle_time_ms: i32 [0, 3] = 0,
        results: Vec<CreatePartitionsTopicResult> [0, 3] = Default::default(),
    }
}

message! {
    pub struct CreatePartitionsTopicResult {
        name: String [0, 3] = Default::default(),
        error_code: i16 [0, 3] = 0,
        error_message: Option<String> [0, 3] = None,
    }
}
