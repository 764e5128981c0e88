//! DescribeProducers request bodies, version 0.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeProducersRequest {
        topics: Vec<TopicRequest> [0, 0] = Default::default(),
    }
}

message! {
    pub struct TopicRequest {
        name: String [0, 0] = Default::default(),
        partition_indexes: Vec<i32> [0, 0] = Default::default(),
    }
}
