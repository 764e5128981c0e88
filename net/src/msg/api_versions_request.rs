//! ApiVersions request bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct ApiVersionsRequest {
        client_software_name: String [3, 4] = Default::default(),
        client_software_version: String [3, 4] = Default::default(),
    }
}
