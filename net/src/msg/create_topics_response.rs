//! CreateTopics response bodies, versions 2-7.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct CreateTopicsResponse {
        throttle_time_ms: i32 [2, 7] = 0,
        topics: Vec<CreatableTopicResult> [2, 7] = Default::default(),
    }
}

message! {
    pub struct CreatableTopicConfigs {
        name: String [5, 7] = Default::default(),
        value: Option<String> [5, 7] = Some(Default::default()),
        read_only: bool [5, 7] = false,
        config_source: i8 [5, 7] = -1,
        is_sensitive: bool [5, 7] = false,
    }
}

message! {
    pub struct CreatableTopicResult {
        name: String [2, 7] = Default::default(),
        topic_id: Uuid [7, 7] = Uuid::NIL,
        error_code: i16 [2, 7] = 0,
        error_message: Option<String> [2, 7] = Some(Default::default()),
        topic_config_error_code: i16 [5, 7] tag 0 = 0,
        num_partitions: i32 [5, 7] = -1,
        replication_factor: i16 [5, 7] = -1,
        configs: Option<Vec<CreatableTopicConfigs>> [5, 7] = Some(Default::default()),
    }
}
