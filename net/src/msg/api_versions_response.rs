//! ApiVersions response bodies, versions 0-4.
//!
//! Field lists and version ranges follow the Apache Kafka message schemas.

#![allow(unused_imports)]

use bytes::Bytes;

use crate::codec::{message, Uuid};

message! {
    /// The ApiVersions response.
    pub struct ApiVersionsResponse {
        /// The top-level error code.
        error_code: i16 [0, 4] = 0,
        /// The APIs supported by the broker.
        api_keys: Vec<ApiVersion> [0, 4] = Default::default(),
        /// The duration in milliseconds for which the request was throttled due to a quota
        /// violation, or zero if the request did not violate any quota.
        throttle_time_ms: i32 [1, 4] = 0,
        /// Features supported by the broker. Note: in v0-v3, features with MinSupportedVersion = 0
        /// are omitted.
        supported_features: Vec<SupportedFeatureKey> [3, 4] tag 0 = Default::default(),
        /// The monotonically increasing epoch for the finalized features information. Valid values
        /// are >= 0. A value of -1 is special and represents unknown epoch.
        finalized_features_epoch: i64 [3, 4] tag 1 = -1,
        /// List of cluster-wide finalized features. The information is valid only if
        /// FinalizedFeaturesEpoch >= 0.
        finalized_features: Vec<FinalizedFeatureKey> [3, 4] tag 2 = Default::default(),
        /// Set by a KRaft controller if the required configurations for ZK migration are present.
        zk_migration_ready: bool [3, 4] tag 3 = false,
    }
}

message! {
    pub struct ApiVersion {
        /// The API index.
        api_key: i16 [0, 4] = 0,
        /// The minimum supported version, inclusive.
        min_version: i16 [0, 4] = 0,
        /// The maximum supported version, inclusive.
        max_version: i16 [0, 4] = 0,
    }
}

message! {
    pub struct FinalizedFeatureKey {
        /// The name of the feature.
        name: String [3, 4] = Default::default(),
        /// The cluster-wide finalized max version level for the feature.
        max_version_level: i16 [3, 4] = 0,
        /// The cluster-wide finalized min version level for the feature.
        min_version_level: i16 [3, 4] = 0,
    }
}

message! {
    pub struct SupportedFeatureKey {
        /// The name of the feature.
        name: String [3, 4] = Default::default(),
        /// The minimum supported version for the feature.
        min_version: i16 [3, 4] = 0,
        /// The maximum supported version for the feature.
        max_version: i16 [3, 4] = 0,
    }
}
