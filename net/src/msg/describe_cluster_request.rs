//! DescribeCluster request bodies, versions 0-1.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeClusterRequest {
        include_cluster_authorized_operations: bool [0, 1] = false,
        endpoint_type: i8 [1, 1] = 1,
    }
}
