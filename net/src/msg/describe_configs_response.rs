//! DescribeConfigs response bodies, versions 1-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct DescribeConfigsResponse {
        throttle_time_ms: i32 [1, 4] = 0,
        results: Vec<DescribeConfigsResult> [1, 4] = Default::default(),
    }
}

message! {
    pub struct DescribeConfigsResourceResult {
        name: String [1, 4] = Default::default(),
        value: Option<String> [1, 4] = Some(Default::default()),
        read_only: bool [1, 4] = false,
        config_source: i8 [1, 4] = -1,
        is_sensitive: bool [1, 4] = false,
        synonyms: Vec<DescribeConfigsSynonym> [1, 4] = Default::default(),
        config_type: i8 [3, 4] = 0,
        documentation: Option<String> [3, 4] = Some(Default::default()),
    }
}

message! {
    pub struct DescribeConfigsResult {
        error_code: i16 [1, 4] = 0,
        error_message: Option<String> [1, 4] = Some(Default::default()),
        resource_type: i8 [1, 4] = 0,
        resource_name: String [1, 4] = Default::default(),
        configs: Vec<DescribeConfigsResourceResult> [1, 4] = Default::default(),
    }
}

message! {
    pub struct DescribeConfigsSynonym {
        name: String [1, 4] = Default::default(),
        value: Option<String> [1, 4] = Some(Default::default()),
        source: i8 [1, 4] = 0,
    }
}
