//! OffsetFetch request bodies, versions 1-7.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct OffsetFetchRequest {
        group_id: String [1, 7] = Default::default(),
        topics: Option<Vec<OffsetFetchRequestTopic>> [1, 7] = Some(Default::default()),
        require_stable: bool [7, 7] = false,
    }
}

message! {
    pub struct OffsetFetchRequestTopic {
        name: String [1, 7] = Default::default(),
        partition_indexes: Vec<i32> [1, 7] = Default::default(),
    }
}
