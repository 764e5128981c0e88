//! Produce request bodies, versions 3-11.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct ProduceRequest {
        transactional_id: Option<String> [3, 11] = None,
        acks: i16 [3, 11] = 0,
        timeout_ms: i32 [3, 11] = 0,
        topic_data: Vec<TopicProduceData> [3, 11] = Default::default(),
    }
}

message! {
    pub struct PartitionProduceData {
        index: i32 [3, 11] = 0,
        records: Option<Bytes> [3, 11] = Some(Default::default()),
    }
}

message! {
    pub struct TopicProduceData {
        name: String [3, 11] = Default::default(),
        partition_data: Vec<PartitionProduceData> [3, 11] = Default::default(),
    }
}
