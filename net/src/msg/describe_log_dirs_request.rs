//! DescribeLogDirs request bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeLogDirsRequest {
        topics: Option<Vec<DescribableLogDirTopic>> [0, 4] = Some(Default::default()),
    }
}

message! {
    pub struct DescribableLogDirTopic {
        topic: String [0, 4] = Default::default(),
        partitions: Vec<i32> [0, 4] = Default::default(),
    }
}
