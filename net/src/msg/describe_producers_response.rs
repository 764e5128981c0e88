//! DescribeProducers response bodies, version 0.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeProducersResponse {
        throttle_time_ms: i32 [0, 0] = 0,
        topics: Vec<TopicResponse> [0, 0] = Default::default(),
    }
}

message! {
    pub struct PartitionResponse {
        partition_index: i32 [0, 0] = 0,
        error_code: i16 [0, 0] = 0,
        error_message: Option<String> [0, 0] = None,
        active_producers: Vec<ProducerState> [0, 0] = Default::default(),
    }
}

message! {
    pub struct ProducerState {
        producer_id: i64 [0, 0] = 0,
        producer_epoch: i32 [0, 0] = 0,
        last_sequence: i32 [0, 0] = -1,
        last_timestamp: i64 [0, 0] = -1,
        coordinator_epoch: i32 [0, 0] = 0,
        current_txn_start_offset: i64 [0, 0] = -1,
    }
}

message! {
    pub struct TopicResponse {
        name: String [0, 0] = Default::default(),
        partitions: Vec<PartitionResponse> [0, 0] = Default::default(),
    }
}
