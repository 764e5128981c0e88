//! DescribeConfigs request bodies, versions 1-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The DescribeConfigs request.
    pub struct DescribeConfigsRequest {
        /// The resources whose configurations we want to describe.
        resources: Vec<DescribeConfigsResource> [1, 4] = Default::default(),
        /// True if we should include all synonyms.
        include_synonyms: bool [1, 4] = false,
        /// True if we should include configuration documentation.
        include_documentation: bool [3, 4] = false,
    }
}

message! {
    pub struct DescribeConfigsResource {
        /// The resource type.
        resource_type: i8 [1, 4] = 0,
        /// The resource name.
        resource_name: String [1, 4] = Default::default(),
        /// The configuration keys to list, or null to list all configuration keys.
        configuration_keys: Option<Vec<String>> [1, 4] = Some(Default::default()),
    }
}
