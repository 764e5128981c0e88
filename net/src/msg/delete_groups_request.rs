//! DeleteGroups request bodies, versions 0-2.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DeleteGroupsRequest {
        groups_names: Vec<String> [0, 2] = Default::default(),
    }
}
