//! Metadata request bodies, versions 0-12.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The Metadata request.
    pub struct MetadataRequest {
        /// The topics to fetch metadata for.
        topics: Option<Vec<MetadataRequestTopic>> [0, 12] = Some(Default::default()),
        /// If this is true, the broker may auto-create topics that we requested which do not
        /// already exist, if it is configured to do so.
        allow_auto_topic_creation: bool [4, 12] = true,
        /// Whether to include cluster authorized operations.
        include_cluster_authorized_operations: bool [8, 10] = false,
        /// Whether to include topic authorized operations.
        include_topic_authorized_operations: bool [8, 12] = false,
    }
}

message! {
    pub struct MetadataRequestTopic {
        /// The topic id.
        topic_id: Uuid [10, 12] = Uuid::NIL,
        /// The topic name.
        name: Option<String> [0, 12] = Some(Default::default()),
    }
}
