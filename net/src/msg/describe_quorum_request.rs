//! DescribeQuorum request bodies, versions 0-1.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeQuorumRequest {
        topics: Vec<TopicData> [0, 1] = Default::default(),
    }
}

message! {
    pub struct PartitionData {
        partition_index: i32 [0, 1] = 0,
    }
}

message! {
    pub struct TopicData {
        topic_name: String [0, 1] = Default::default(),
        partitions: Vec<PartitionData> [0, 1] = Default::default(),
    }
}
