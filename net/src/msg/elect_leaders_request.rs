//! ElectLeaders request bodies, versions 0-2.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct ElectLeadersRequest {
        election_type: i8 [1, 2] = 0,
        topic_partitions: Option<Vec<TopicPartitions>> [0, 2] = Some(Default::default()),
        timeout_ms: i32 [0, 2] = 60000,
    }
}

message! {
    pub struct TopicPartitions {
        topic: String [0, 2] = Default::default(),
        partitions: Vec<i32> [0, 2] = Default::default(),
    }
}
