//! DescribeCluster response bodies, versions 0-1.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeClusterResponse {
        throttle_time_ms: i32 [0, 1] = 0,
        error_code: i16 [0, 1] = 0,
        error_message: Option<String> [0, 1] = None,
        endpoint_type: i8 [1, 1] = 1,
        cluster_id: String [0, 1] = Default::default(),
        controller_id: i32 [0, 1] = -1,
        brokers: Vec<DescribeClusterBroker> [0, 1] = Default::default(),
        cluster_authorized_operations: i32 [0, 1] = -2147483648,
    }
}

message! {
    pub struct DescribeClusterBroker {
        broker_id: i32 [0, 1] = 0,
        host: String [0, 1] = Default::default(),
        port: i32 [0, 1] = 0,
        rack: Option<String> [0, 1] = None,
    }
}
