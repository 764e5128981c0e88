//! DeleteTopics request bodies, versions 1-6.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DeleteTopicsRequest {
        topics: Vec<DeleteTopicState> [6, 6] = Default::default(),
        topic_names: Vec<String> [1, 5] = Default::default(),
        timeout_ms: i32 [1, 6] = 0,
    }
}

message! {
    pub struct DeleteTopicState {
        name: Option<String> [6, 6] = None,
        topic_id: Uuid [6, 6] = Uuid::NIL,
    }
}
