//! Fetch request bodies, versions 4-12.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct FetchRequest {
        cluster_id: Option<String> [12, 12] tag 0 = None,
        replica_id: i32 [4, 12] = -1,
        max_wait_ms: i32 [4, 12] = 0,
        min_bytes: i32 [4, 12] = 0,
        max_bytes: i32 [4, 12] = 0x7fffffff,
        isolation_level: i8 [4, 12] = 0,
        session_id: i32 [7, 12] = 0,
        session_epoch: i32 [7, 12] = -1,
        topics: Vec<FetchTopic> [4, 12] = Default::default(),
        forgotten_topics_data: Vec<ForgottenTopic> [7, 12] = Default::default(),
        rack_id: String [11, 12] = String::new(),
    }
}

message! {
    pub struct FetchPartition {
        partition: i32 [4, 12] = 0,
        current_leader_epoch: i32 [9, 12] = -1,
        fetch_offset: i64 [4, 12] = 0,
        last_fetched_epoch: i32 [12, 12] = -1,
        log_start_offset: i64 [5, 12] = -1,
        partition_max_bytes: i32 [4, 12] = 0,
    }
}

message! {
    pub struct FetchTopic {
        topic: String [4, 12] = Default::default(),
        partitions: Vec<FetchPartition> [4, 12] = Default::default(),
    }
}

message! {
    pub struct ForgottenTopic {
        topic: String [7, 12] = Default::default(),
        partitions: Vec<i32> [7, 12] = Default::default(),
    }
}
