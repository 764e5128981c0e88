//! DeleteTopics response bodies, versions 1-6.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DeleteTopicsResponse {
        throttle_time_ms: i32 [1, 6] = 0,
        responses: Vec<DeletableTopicResult> [1, 6] = Default::default(),
    }
}

message! {
    pub struct DeletableTopicResult {
        name: Option<String> [1, 6] = Some(Default::default()),
        topic_id: Uuid [6, 6] = Uuid::NIL,
        error_code: i16 [1, 6] = 0,
        error_message: Option<String> [5, 6] = None,
    }
}
