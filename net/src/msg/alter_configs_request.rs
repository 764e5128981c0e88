//! AlterConfigs request bodies, versions 0-2.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct AlterConfigsRequest {
        resources: Vec<AlterConfigsResource> [0, 2] = Default::default(),
        validate_only: bool [0, 2] = false,
    }
}

message! {
    pub struct AlterConfigsResource {
        resource_type: i8 [0, 2] = 0,
        resource_name: String [0, 2] = Default::default(),
        configs: Vec<AlterableConfig> [0, 2] = Default::default(),
    }
}

message! {
    pub struct AlterableConfig {
        name: String [0, 2] = Default::default(),
        value: Option<String> [0, 2] = Some(Default::default()),
    }
}
