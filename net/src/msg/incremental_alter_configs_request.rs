//! IncrementalAlterConfigs request bodies, versions 0-1.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct IncrementalAlterConfigsRequest {
        resources: Vec<AlterConfigsResource> [0, 1] = Default::default(),
        validate_only: bool [0, 1] = false,
    }
}

message! {
    pub struct AlterConfigsResource {
        resource_type: i8 [0, 1] = 0,
        resource_name: String [0, 1] = Default::default(),
        configs: Vec<AlterableConfig> [0, 1] = Default::default(),
    }
}

message! {
    pub struct AlterableConfig {
        name: String [0, 1] = Default::default(),
        config_operation: i8 [0, 1] = 0,
        value: Option<String> [0, 1] = Some(Default::default()),
    }
}
