//! Fetch response bodies, versions 4-12.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};
use crate::record_set::RecordSet;

message! {
    pub struct FetchResponse {
        throttle_time_ms: i32 [4, 12] = 0,
        error_code: i16 [7, 12] = 0,
        session_id: i32 [7, 12] = 0,
        responses: Vec<FetchableTopicResponse> [4, 12] = Default::default(),
    }
}

message! {
    pub struct AbortedTransaction {
        producer_id: i64 [4, 12] = 0,
        first_offset: i64 [4, 12] = 0,
    }
}

message! {
    pub struct EpochEndOffset {
        epoch: i32 [12, 12] = -1,
        end_offset: i64 [12, 12] = -1,
    }
}

message! {
    pub struct FetchableTopicResponse {
        topic: String [4, 12] = Default::default(),
        partitions: Vec<PartitionData> [4, 12] = Default::default(),
    }
}

message! {
    pub struct LeaderIdAndEpoch {
        leader_id: i32 [12, 12] = -1,
        leader_epoch: i32 [12, 12] = -1,
    }
}

message! {
    pub struct PartitionData {
        partition_index: i32 [4, 12] = 0,
        error_code: i16 [4, 12] = 0,
        high_watermark: i64 [4, 12] = 0,
        last_stable_offset: i64 [4, 12] = -1,
        log_start_offset: i64 [5, 12] = -1,
        diverging_epoch: EpochEndOffset [12, 12] tag 0 = Default::default(),
        current_leader: LeaderIdAndEpoch [12, 12] tag 1 = Default::default(),
        snapshot_id: SnapshotId [12, 12] tag 2 = Default::default(),
        aborted_transactions: Option<Vec<AbortedTransaction>> [4, 12] = Some(Default::default()),
        preferred_read_replica: i32 [11, 12] = -1,
        records: Option<RecordSet> [4, 12] = Some(Default::default()),
    }
}

message! {
    pub struct SnapshotId {
        end_offset: i64 [4, 12] = -1,
        epoch: i32 [4, 12] = -1,
    }
}
