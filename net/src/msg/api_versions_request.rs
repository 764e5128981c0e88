//! ApiVersions request bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The ApiVersions request.
    pub struct ApiVersionsRequest {
        /// The name of the client.
        client_software_name: String [3, 4] = Default::default(),
        /// The version of the client.
        client_software_version: String [3, 4] = Default::default(),
    }
}
