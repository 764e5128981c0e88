//! ApiVersions response bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    pub struct ApiVersionsResponse {
        error_code: i16 [0, 4] = 0,
        api_keys: Vec<ApiVersion> [0, 4] = Default::default(),
        throttle_time_ms: i32 [1, 4] = 0,
        supported_features: Vec<SupportedFeatureKey> [3, 4] tag 0 = Default::default(),
        finalized_features_epoch: i64 [3, 4] tag 1 = -1,
        finalized_features: Vec<FinalizedFeatureKey> [3, 4] tag 2 = Default::default(),
        zk_migration_ready: bool [3, 4] tag 3 = false,
    }
}

message! {
    pub struct ApiVersion {
        api_key: i16 [0, 4] = 0,
        min_version: i16 [0, 4] = 0,
        max_version: i16 [0, 4] = 0,
    }
}

message! {
    pub struct FinalizedFeatureKey {
        name: String [3, 4] = Default::default(),
        max_version_level: i16 [3, 4] = 0,
        min_version_level: i16 [3, 4] = 0,
    }
}

message! {
    pub struct SupportedFeatureKey {
        name: String [3, 4] = Default::default(),
        min_version: i16 [3, 4] = 0,
        max_version: i16 [3, 4] = 0,
    }
}
