//! Metadata request bodies, versions 0-12.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct MetadataRequest {
        topics: Option<Vec<MetadataRequestTopic>> [0, 12] = Some(Default::default()),
        allow_auto_topic_creation: bool [4, 12] = true,
        include_cluster_authorized_operations: bool [8, 10] = false,
        include_topic_authorized_operations: bool [8, 12] = false,
    }
}

message! {
    pub struct MetadataRequestTopic {
        topic_id: Uuid [10, 12] = Uuid::NIL,
        name: Option<String> [0, 12] = Some(Default::default()),
    }
}
