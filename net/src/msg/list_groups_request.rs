//! ListGroups request bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct ListGroupsRequest {
        states_filter: Vec<String> [4, 4] = Default::default(),
    }
}
