//! ListGroups request bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The ListGroups request.
    pub struct ListGroupsRequest {
        /// The states of the groups we want to list. If empty, all groups are returned with their
        /// state.
        states_filter: Vec<String> [4, 4] = Default::default(),
    }
}
