//! DeleteTopics request bodies, versions 1-6.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The DeleteTopics request.
    pub struct DeleteTopicsRequest {
        /// The name or topic ID of the topic.
        topics: Vec<DeleteTopicState> [6, 6] = Default::default(),
        /// The names of the topics to delete.
        topic_names: Vec<String> [1, 5] = Default::default(),
        /// The length of time in milliseconds to wait for the deletions to complete.
        timeout_ms: i32 [1, 6] = 0,
    }
}

message! {
    pub struct DeleteTopicState {
        /// The topic name.
        name: Option<String> [6, 6] = None,
        /// The unique topic ID.
        topic_id: Uuid [6, 6] = Uuid::NIL,
    }
}
