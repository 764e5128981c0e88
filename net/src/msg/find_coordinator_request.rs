//! FindCoordinator request bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct FindCoordinatorRequest {
        key: String [0, 3] = Default::default(),
        key_type: i8 [1, 4] = 0,
        coordinator_keys: Vec<String> [4, 4] = Default::default(),
    }
}
