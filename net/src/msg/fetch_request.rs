//! Fetch request bodies, versions 4-12.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The Fetch request.
    pub struct FetchRequest {
        /// The clusterId if known. This is used to validate metadata fetches prior to broker
        /// registration.
        cluster_id: Option<String> [12, 12] tag 0 = None,
        /// The broker ID of the follower, of -1 if this request is from a consumer.
        replica_id: i32 [4, 12] = -1,
        /// The maximum time in milliseconds to wait for the response.
        max_wait_ms: i32 [4, 12] = 0,
        /// The minimum bytes to accumulate in the response.
        min_bytes: i32 [4, 12] = 0,
        /// The maximum bytes to fetch.  See KIP-74 for cases where this limit may not be honored.
        max_bytes: i32 [4, 12] = 0x7fffffff,
        /// This setting controls the visibility of transactional records. Using READ_UNCOMMITTED
        /// (isolation_level = 0) makes all records visible. With READ_COMMITTED (isolation_level =
        /// 1), non-transactional and COMMITTED transactional records are visible. To be more
        /// concrete, READ_COMMITTED returns all data from offsets smaller than the current LSO
        /// (last stable offset), and enables the inclusion of the list of aborted transactions in
        /// the result, which allows consumers to discard ABORTED transactional records.
        isolation_level: i8 [4, 12] = 0,
        /// The fetch session ID.
        session_id: i32 [7, 12] = 0,
        /// The fetch session epoch, which is used for ordering requests in a session.
        session_epoch: i32 [7, 12] = -1,
        /// The topics to fetch.
        topics: Vec<FetchTopic> [4, 12] = Default::default(),
        /// In an incremental fetch request, the partitions to remove.
        forgotten_topics_data: Vec<ForgottenTopic> [7, 12] = Default::default(),
        /// Rack ID of the consumer making this request.
        rack_id: String [11, 12] = String::new(),
    }
}

message! {
    pub struct FetchPartition {
        /// The partition index.
        partition: i32 [4, 12] = 0,
        /// The current leader epoch of the partition.
        current_leader_epoch: i32 [9, 12] = -1,
        /// The message offset.
        fetch_offset: i64 [4, 12] = 0,
        /// The epoch of the last fetched record or -1 if there is none.
        last_fetched_epoch: i32 [12, 12] = -1,
        /// The earliest available offset of the follower replica.  The field is only used when the
        /// request is sent by the follower.
        log_start_offset: i64 [5, 12] = -1,
        /// The maximum bytes to fetch from this partition.  See KIP-74 for cases where this limit
        /// may not be honored.
        partition_max_bytes: i32 [4, 12] = 0,
    }
}

message! {
    pub struct FetchTopic {
        /// The name of the topic to fetch.
        topic: String [4, 12] = Default::default(),
        /// The partitions to fetch.
        partitions: Vec<FetchPartition> [4, 12] = Default::default(),
    }
}

message! {
    pub struct ForgottenTopic {
        /// The topic name.
        topic: String [7, 12] = Default::default(),
        /// The partitions indexes to forget.
        partitions: Vec<i32> [7, 12] = Default::default(),
    }
}
