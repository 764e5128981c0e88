//! Produce request bodies, versions 3-11.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The Produce request.
    pub struct ProduceRequest {
        /// The transactional ID, or null if the producer is not transactional.
        transactional_id: Option<String> [3, 11] = None,
        /// The number of acknowledgments the producer requires the leader to have received before
        /// considering a request complete. Allowed values: 0 for no acknowledgments, 1 for only the
        /// leader and -1 for the full ISR.
        acks: i16 [3, 11] = 0,
        /// The timeout to await a response in milliseconds.
        timeout_ms: i32 [3, 11] = 0,
        /// Each topic to produce to.
        topic_data: Vec<TopicProduceData> [3, 11] = Default::default(),
    }
}

message! {
    pub struct PartitionProduceData {
        /// The partition index.
        index: i32 [3, 11] = 0,
        /// The record data to be produced.
        records: Option<Bytes> [3, 11] = Some(Default::default()),
    }
}

message! {
    pub struct TopicProduceData {
        /// The topic name.
        name: String [3, 11] = Default::default(),
        /// Each partition to produce to.
        partition_data: Vec<PartitionProduceData> [3, 11] = Default::default(),
    }
}
