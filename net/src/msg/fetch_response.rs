//! Fetch response bodies, versions 4-12.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};
use crate::record_set::RecordSet;

message! {
    /// The Fetch response.
    pub struct FetchResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [4, 12] = 0,
        /// The top level response error code.
        error_code: i16 [7, 12] = 0,
        /// The fetch session ID, or 0 if this is not part of a fetch session.
        session_id: i32 [7, 12] = 0,
        /// The response topics.
        responses: Vec<FetchableTopicResponse> [4, 12] = Default::default(),
    }
}

message! {
    pub struct AbortedTransaction {
        /// The producer id associated with the aborted transaction.
        producer_id: i64 [4, 12] = 0,
        /// The first offset in the aborted transaction.
        first_offset: i64 [4, 12] = 0,
    }
}

message! {
    pub struct EpochEndOffset {
        /// The largest epoch.
        epoch: i32 [12, 12] = -1,
        /// The end offset of the epoch.
        end_offset: i64 [12, 12] = -1,
    }
}

message! {
    pub struct FetchableTopicResponse {
        /// The topic name.
        topic: String [4, 12] = Default::default(),
        /// The topic partitions.
        partitions: Vec<PartitionData> [4, 12] = Default::default(),
    }
}

message! {
    pub struct LeaderIdAndEpoch {
        /// The ID of the current leader or -1 if the leader is unknown.
        leader_id: i32 [12, 12] = -1,
        /// The latest known leader epoch.
        leader_epoch: i32 [12, 12] = -1,
    }
}

message! {
    pub struct PartitionData {
        /// The partition index.
        partition_index: i32 [4, 12] = 0,
        /// The error code, or 0 if there was no fetch error.
        error_code: i16 [4, 12] = 0,
        /// The current high water mark.
        high_watermark: i64 [4, 12] = 0,
        /// The last stable offset (or LSO) of the partition. This is the last offset such that the
        /// state of all transactional records prior to this offset have been decided (ABORTED or
        /// COMMITTED).
        last_stable_offset: i64 [4, 12] = -1,
        /// The current log start offset.
        log_start_offset: i64 [5, 12] = -1,
        /// In case divergence is detected based on the `LastFetchedEpoch` and `FetchOffset` in the
        /// request, this field indicates the largest epoch and its end offset such that subsequent
        /// records are known to diverge.
        diverging_epoch: EpochEndOffset [12, 12] tag 0 = Default::default(),
        /// The current leader of the partition.
        current_leader: LeaderIdAndEpoch [12, 12] tag 1 = Default::default(),
        /// In the case of fetching an offset less than the LogStartOffset, this is the end offset
        /// and epoch that should be used in the FetchSnapshot request.
        snapshot_id: SnapshotId [12, 12] tag 2 = Default::default(),
        /// The aborted transactions.
        aborted_transactions: Option<Vec<AbortedTransaction>> [4, 12] = Some(Default::default()),
        /// The preferred read replica for the consumer to use on its next fetch request.
        preferred_read_replica: i32 [11, 12] = -1,
        /// The record data, in as many chunks as storage returned it.
        records: Option<RecordSet> [4, 12] = Some(Default::default()),
    }
}

message! {
    pub struct SnapshotId {
        /// The end offset of the epoch.
        end_offset: i64 [4, 12] = -1,
        /// The largest epoch.
        epoch: i32 [4, 12] = -1,
    }
}
