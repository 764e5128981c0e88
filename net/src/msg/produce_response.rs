//! Produce response bodies, versions 3-11.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct ProduceResponse {
        responses: Vec<TopicProduceResponse> [3, 11] = Default::default(),
        throttle_time_ms: i32 [3, 11] = 0,
        node_endpoints: Vec<NodeEndpoint> [10, 11] tag 0 = Default::default(),
    }
}

message! {
    pub struct BatchIndexAndErrorMessage {
        batch_index: i32 [8, 11] = 0,
        batch_index_error_message: Option<String> [8, 11] = None,
    }
}

message! {
    pub struct LeaderIdAndEpoch {
        leader_id: i32 [10, 11] = -1,
        leader_epoch: i32 [10, 11] = -1,
    }
}

message! {
    pub struct NodeEndpoint {
        node_id: i32 [10, 11] = 0,
        host: String [10, 11] = Default::default(),
        port: i32 [10, 11] = 0,
        rack: Option<String> [10, 11] = None,
    }
}

message! {
    pub struct PartitionProduceResponse {
        index: i32 [3, 11] = 0,
        error_code: i16 [3, 11] = 0,
        base_offset: i64 [3, 11] = 0,
        log_append_time_ms: i64 [3, 11] = -1,
        log_start_offset: i64 [5, 11] = -1,
        record_errors: Vec<BatchIndexAndErrorMessage> [8, 11] = Default::default(),
        error_message: Option<String> [8, 11] = None,
        current_leader: LeaderIdAndEpoch [10, 11] tag 0 = Default::default(),
    }
}

message! {
    pub struct TopicProduceResponse {
        name: String [3, 11] = Default::default(),
        partition_responses: Vec<PartitionProduceResponse> [3, 11] = Default::default(),
    }
}
