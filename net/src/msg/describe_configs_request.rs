//! DescribeConfigs request bodies, versions 1-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeConfigsRequest {
        resources: Vec<DescribeConfigsResource> [1, 4] = Default::default(),
        include_synonyms: bool [1, 4] = false,
        include_documentation: bool [3, 4] = false,
    }
}

message! {
    pub struct DescribeConfigsResource {
        resource_type: i8 [1, 4] = 0,
        resource_name: String [1, 4] = Default::default(),
        configuration_keys: Option<Vec<String>> [1, 4] = Some(Default::default()),
    }
}
