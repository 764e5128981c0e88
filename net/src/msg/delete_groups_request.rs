//! DeleteGroups request bodies, versions 0-2.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The DeleteGroups request.
    pub struct DeleteGroupsRequest {
        /// The group names to delete.
        groups_names: Vec<String> [0, 2] = Default::default(),
    }
}
