//! CreateTopics response bodies, versions 2-7.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The CreateTopics response.
    pub struct CreateTopicsResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [2, 7] = 0,
        /// Results for each topic we tried to create.
        topics: Vec<CreatableTopicResult> [2, 7] = Default::default(),
    }
}

message! {
    pub struct CreatableTopicConfigs {
        /// The configuration name.
        name: String [5, 7] = Default::default(),
        /// The configuration value.
        value: Option<String> [5, 7] = Some(Default::default()),
        /// True if the configuration is read-only.
        read_only: bool [5, 7] = false,
        /// The configuration source.
        config_source: i8 [5, 7] = -1,
        /// True if this configuration is sensitive.
        is_sensitive: bool [5, 7] = false,
    }
}

message! {
    pub struct CreatableTopicResult {
        /// The topic name.
        name: String [2, 7] = Default::default(),
        /// The unique topic ID.
        topic_id: Uuid [7, 7] = Uuid::NIL,
        /// The error code, or 0 if there was no error.
        error_code: i16 [2, 7] = 0,
        /// The error message, or null if there was no error.
        error_message: Option<String> [2, 7] = Some(Default::default()),
        /// Optional topic config error returned if configs are not returned in the response.
        topic_config_error_code: i16 [5, 7] tag 0 = 0,
        /// Number of partitions of the topic.
        num_partitions: i32 [5, 7] = -1,
        /// Replication factor of the topic.
        replication_factor: i16 [5, 7] = -1,
        /// Configuration of the topic.
        configs: Option<Vec<CreatableTopicConfigs>> [5, 7] = Some(Default::default()),
    }
}
