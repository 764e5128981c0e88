//! ElectLeaders response bodies, versions 0-2.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct ElectLeadersResponse {
        throttle_time_ms: i32 [0, 2] = 0,
        error_code: i16 [1, 2] = 0,
        replica_election_results: Vec<ReplicaElectionResult> [0, 2] = Default::default(),
    }
}

message! {
    pub struct PartitionResult {
        partition_id: i32 [0, 2] = 0,
        error_code: i16 [0, 2] = 0,
        error_message: Option<String> [0, 2] = Some(Default::default()),
    }
}

message! {
    pub struct ReplicaElectionResult {
        topic: String [0, 2] = Default::default(),
        partition_result: Vec<PartitionResult> [0, 2] = Default::default(),
    }
}
