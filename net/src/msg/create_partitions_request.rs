//! CreatePartitions request bodies, versions 0-3.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct CreatePartitionsRequest {
        topics: Vec<CreatePartitionsTopic> [0, 3] = Default::default(),
        timeout_ms: i32 [0, 3] = 0,
        validate_only: bool [0, 3] = false,
    }
}

message! {
    pub struct CreatePartitionsAssignment {
        broker_ids: Vec<i32> [0, 3] = Default::default(),
    }
}

message! {
    pub struct CreatePartitionsTopic {
        name: String [0, 3] = Default::default(),
        count: i32 [0, 3] = 0,
        assignments: Option<Vec<CreatePartitionsAssignment>> [0, 3] = Some(Default::default()),
    }
}
