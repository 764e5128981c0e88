//! Produce response bodies, versions 3-11.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The Produce response.
    pub struct ProduceResponse {
        /// Each produce response.
        responses: Vec<TopicProduceResponse> [3, 11] = Default::default(),
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [3, 11] = 0,
        /// Endpoints for all current-leaders enumerated in PartitionProduceResponses, with errors
        /// NOT_LEADER_OR_FOLLOWER.
        node_endpoints: Vec<NodeEndpoint> [10, 11] tag 0 = Default::default(),
    }
}

message! {
    pub struct BatchIndexAndErrorMessage {
        /// The batch index of the record that caused the batch to be dropped.
        batch_index: i32 [8, 11] = 0,
        /// The error message of the record that caused the batch to be dropped.
        batch_index_error_message: Option<String> [8, 11] = None,
    }
}

message! {
    pub struct LeaderIdAndEpoch {
        /// The ID of the current leader or -1 if the leader is unknown.
        leader_id: i32 [10, 11] = -1,
        /// The latest known leader epoch.
        leader_epoch: i32 [10, 11] = -1,
    }
}

message! {
    pub struct NodeEndpoint {
        /// The ID of the associated node.
        node_id: i32 [10, 11] = 0,
        /// The node's hostname.
        host: String [10, 11] = Default::default(),
        /// The node's port.
        port: i32 [10, 11] = 0,
        /// The rack of the node, or null if it has not been assigned to a rack.
        rack: Option<String> [10, 11] = None,
    }
}

message! {
    pub struct PartitionProduceResponse {
        /// The partition index.
        index: i32 [3, 11] = 0,
        /// The error code, or 0 if there was no error.
        error_code: i16 [3, 11] = 0,
        /// The base offset.
        base_offset: i64 [3, 11] = 0,
        /// The timestamp returned by broker after appending the messages. If CreateTime is used for
        /// the topic, the timestamp will be -1.  If LogAppendTime is used for the topic, the
        /// timestamp will be the broker local time when the messages are appended.
        log_append_time_ms: i64 [3, 11] = -1,
        /// The log start offset.
        log_start_offset: i64 [5, 11] = -1,
        /// The batch indices of records that caused the batch to be dropped.
        record_errors: Vec<BatchIndexAndErrorMessage> [8, 11] = Default::default(),
        /// The global error message summarizing the common root cause of the records that caused
        /// the batch to be dropped.
        error_message: Option<String> [8, 11] = None,
        /// The leader broker that the producer should use for future requests.
        current_leader: LeaderIdAndEpoch [10, 11] tag 0 = Default::default(),
    }
}

message! {
    pub struct TopicProduceResponse {
        /// The topic name.
        name: String [3, 11] = Default::default(),
        /// Each partition that we produced to within the topic.
        partition_responses: Vec<PartitionProduceResponse> [3, 11] = Default::default(),
    }
}
