//! DeleteTopics response bodies, versions 1-6.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The DeleteTopics response.
    pub struct DeleteTopicsResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [1, 6] = 0,
        /// The results for each topic we tried to delete.
        responses: Vec<DeletableTopicResult> [1, 6] = Default::default(),
    }
}

message! {
    pub struct DeletableTopicResult {
        /// The topic name.
        name: Option<String> [1, 6] = Some(Default::default()),
        /// The unique topic ID.
        topic_id: Uuid [6, 6] = Uuid::NIL,
        /// The deletion error, or 0 if the deletion succeeded.
        error_code: i16 [1, 6] = 0,
        /// The error message, or null if there was no error.
        error_message: Option<String> [5, 6] = None,
    }
}
