//! DescribeConfigs response bodies, versions 1-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The DescribeConfigs response.
    pub struct DescribeConfigsResponse {
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [1, 4] = 0,
        /// The results for each resource.
        results: Vec<DescribeConfigsResult> [1, 4] = Default::default(),
    }
}

message! {
    pub struct DescribeConfigsResourceResult {
        /// The configuration name.
        name: String [1, 4] = Default::default(),
        /// The configuration value.
        value: Option<String> [1, 4] = Some(Default::default()),
        /// True if the configuration is read-only.
        read_only: bool [1, 4] = false,
        /// The configuration source.
        config_source: i8 [1, 4] = -1,
        /// True if this configuration is sensitive.
        is_sensitive: bool [1, 4] = false,
        /// The synonyms for this configuration key.
        synonyms: Vec<DescribeConfigsSynonym> [1, 4] = Default::default(),
        /// The configuration data type. Type can be one of the following values - BOOLEAN, STRING,
        /// INT, SHORT, LONG, DOUBLE, LIST, CLASS, PASSWORD.
        config_type: i8 [3, 4] = 0,
        /// The configuration documentation.
        documentation: Option<String> [3, 4] = Some(Default::default()),
    }
}

message! {
    pub struct DescribeConfigsResult {
        /// The error code, or 0 if we were able to successfully describe the configurations.
        error_code: i16 [1, 4] = 0,
        /// The error message, or null if we were able to successfully describe the configurations.
        error_message: Option<String> [1, 4] = Some(Default::default()),
        /// The resource type.
        resource_type: i8 [1, 4] = 0,
        /// The resource name.
        resource_name: String [1, 4] = Default::default(),
        /// Each listed configuration.
        configs: Vec<DescribeConfigsResourceResult> [1, 4] = Default::default(),
    }
}

message! {
    pub struct DescribeConfigsSynonym {
        /// The synonym name.
        name: String [1, 4] = Default::default(),
        /// The synonym value.
        value: Option<String> [1, 4] = Some(Default::default()),
        /// The synonym source.
        source: i8 [1, 4] = 0,
    }
}
