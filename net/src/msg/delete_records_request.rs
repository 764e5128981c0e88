//! DeleteRecords request bodies, versions 0-2.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DeleteRecordsRequest {
        topics: Vec<DeleteRecordsTopic> [0, 2] = Default::default(),
        timeout_ms: i32 [0, 2] = 0,
    }
}

message! {
    pub struct DeleteRecordsPartition {
        partition_index: i32 [0, 2] = 0,
        offset: i64 [0, 2] = 0,
    }
}

message! {
    pub struct DeleteRecordsTopic {
        name: String [0, 2] = Default::default(),
        partitions: Vec<DeleteRecordsPartition> [0, 2] = Default::default(),
    }
}
