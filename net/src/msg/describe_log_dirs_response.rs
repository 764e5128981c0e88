//! DescribeLogDirs response bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeLogDirsResponse {
        throttle_time_ms: i32 [0, 4] = 0,
        error_code: i16 [3, 4] = 0,
        results: Vec<DescribeLogDirsResult> [0, 4] = Default::default(),
    }
}

message! {
    pub struct DescribeLogDirsPartition {
        partition_index: i32 [0, 4] = 0,
        partition_size: i64 [0, 4] = 0,
        offset_lag: i64 [0, 4] = 0,
        is_future_key: bool [0, 4] = false,
    }
}

message! {
    pub struct DescribeLogDirsResult {
        error_code: i16 [0, 4] = 0,
        log_dir: String [0, 4] = Default::default(),
        topics: Vec<DescribeLogDirsTopic> [0, 4] = Default::default(),
        total_bytes: i64 [4, 4] = -1,
        usable_bytes: i64 [4, 4] = -1,
    }
}

message! {
    pub struct DescribeLogDirsTopic {
        name: String [0, 4] = Default::default(),
        partitions: Vec<DescribeLogDirsPartition> [0, 4] = Default::default(),
    }
}
