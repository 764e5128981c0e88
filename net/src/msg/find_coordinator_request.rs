//! FindCoordinator request bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The FindCoordinator request.
    pub struct FindCoordinatorRequest {
        /// The coordinator key.
        key: String [0, 3] = Default::default(),
        /// The coordinator key type. (group, transaction, share).
        key_type: i8 [1, 4] = 0,
        /// The coordinator keys.
        coordinator_keys: Vec<String> [4, 4] = Default::default(),
    }
}
