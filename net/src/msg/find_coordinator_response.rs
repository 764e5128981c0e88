//! FindCoordinator response bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct FindCoordinatorResponse {
        throttle_time_ms: i32 [1, 4] = 0,
        error_code: i16 [0, 3] = 0,
        error_message: Option<String> [1, 3] = Some(Default::default()),
        node_id: i32 [0, 3] = 0,
        host: String [0, 3] = Default::default(),
        port: i32 [0, 3] = 0,
        coordinators: Vec<Coordinator> [4, 4] = Default::default(),
    }
}

message! {
    pub struct Coordinator {
        key: String [4, 4] = Default::default(),
        node_id: i32 [4, 4] = 0,
        host: String [4, 4] = Default::default(),
        port: i32 [4, 4] = 0,
        error_code: i16 [4, 4] = 0,
        error_message: Option<String> [4, 4] = Some(Default::default()),
    }
}
