//! The APIs Sluice speaks: their keys, the one table of supported versions,
//! and the typed request and response enums the broker dispatches on.
//!
//! [`SUPPORTED_VERSIONS`] is the single source of truth: ApiVersions
//! advertises it (the broker, the part it has handlers for), request decoding
//! refuses anything outside it, and the tests round-trip every version in it
//! and compare it with kafka-protocol.

use crate::codec::{DecodeResult, Decoder, Encoder, Layout, Wire};
use crate::msg::*;

/// A supported API and its version range, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersionRange {
    pub api_key: ApiKey,
    pub min_version: i16,
    pub max_version: i16,
    /// First version in the flexible (KIP-482) format; `i16::MAX` for none.
    pub flexible_min_version: i16,
}

/// A request body type: its API and the response that answers it.
pub trait ApiRequest: Wire {
    const API_KEY: ApiKey;
    type Response: ApiResponse;
}

/// A response body type.
pub trait ApiResponse: Wire {
    const API_KEY: ApiKey;
}

macro_rules! apis {
    ($(
        $(#[$meta:meta])*
        $variant:ident = $key:literal, versions $min:literal..=$max:literal,
        flexible $flex:literal, $request:ident, $response:ident;
    )*) => {
        /// A Kafka API key with its numeric wire value.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i16)]
        pub enum ApiKey {
            $( $(#[$meta])* $variant = $key, )*
        }

        impl ApiKey {
            /// Every API Sluice implements.
            pub const ALL: &'static [ApiKey] = &[$(ApiKey::$variant),*];

            pub const fn code(self) -> i16 {
                self as i16
            }

            /// The API with this wire value, if Sluice implements it.
            pub const fn from_code(code: i16) -> Option<Self> {
                match code {
                    $($key => Some(ApiKey::$variant),)*
                    _ => None,
                }
            }

            pub const fn name(self) -> &'static str {
                match self {
                    $(ApiKey::$variant => stringify!($variant),)*
                }
            }
        }

        /// The versions Sluice implements, tests and advertises, by API.
        pub const SUPPORTED_VERSIONS: &[ApiVersionRange] = &[$(
            ApiVersionRange {
                api_key: ApiKey::$variant,
                min_version: $min,
                max_version: $max,
                flexible_min_version: $flex,
            },
        )*];

        $(
            impl ApiRequest for $request {
                const API_KEY: ApiKey = ApiKey::$variant;
                type Response = $response;
            }
            impl ApiResponse for $response {
                const API_KEY: ApiKey = ApiKey::$variant;
            }
        )*

        /// A decoded request body.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Request {
            $($variant($request),)*
        }

        impl Request {
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(Request::$variant(_) => ApiKey::$variant,)*
                }
            }

            pub(crate) fn decode_body(
                api_key: ApiKey,
                d: &mut Decoder,
                layout: Layout,
            ) -> DecodeResult<Self> {
                Ok(match api_key {
                    $(ApiKey::$variant => Request::$variant($request::decode(d, layout)?),)*
                })
            }

            pub(crate) fn encode_body(&self, e: &mut Encoder, layout: Layout) {
                match self {
                    $(Request::$variant(body) => body.encode(e, layout),)*
                }
            }
        }

        /// A response body, for code that handles responses of any API.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Response {
            $($variant($response),)*
        }

        impl Response {
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(Response::$variant(_) => ApiKey::$variant,)*
                }
            }

            pub(crate) fn decode_body(
                api_key: ApiKey,
                d: &mut Decoder,
                layout: Layout,
            ) -> DecodeResult<Self> {
                Ok(match api_key {
                    $(ApiKey::$variant => Response::$variant($response::decode(d, layout)?),)*
                })
            }

            pub(crate) fn encode_body(&self, e: &mut Encoder, layout: Layout) {
                match self {
                    $(Response::$variant(body) => body.encode(e, layout),)*
                }
            }
        }

        $(
            impl From<$request> for Request {
                fn from(body: $request) -> Self {
                    Request::$variant(body)
                }
            }
            impl From<$response> for Response {
                fn from(body: $response) -> Self {
                    Response::$variant(body)
                }
            }
        )*
    };
}

// Minimum versions: no higher than what librdkafka 2.x, kafka-python 3.x and
// the Java client 3.x/4.x send (Kafka 4.0's KIP-896 baseline or lower).
// Maximum versions: the newest each of those clients uses that needs no
// feature Sluice lacks (Fetch stops at 12 because 13+ names topics by id;
// OffsetCommit/OffsetFetch stop before the KIP-848 consumer protocol).
// The admin and cluster APIs (ACLs, configs, partitions, reassignments, log
// dirs, quorum) are here so that their handlers can be written; the broker
// must advertise only the APIs it has handlers for.
apis! {
    Produce = 0, versions 3..=11, flexible 9, ProduceRequest, ProduceResponse;
    Fetch = 1, versions 4..=12, flexible 12, FetchRequest, FetchResponse;
    ListOffsets = 2, versions 1..=7, flexible 6, ListOffsetsRequest, ListOffsetsResponse;
    Metadata = 3, versions 0..=12, flexible 9, MetadataRequest, MetadataResponse;
    OffsetCommit = 8, versions 2..=8, flexible 8, OffsetCommitRequest, OffsetCommitResponse;
    OffsetFetch = 9, versions 1..=7, flexible 6, OffsetFetchRequest, OffsetFetchResponse;
    FindCoordinator = 10, versions 0..=4, flexible 3, FindCoordinatorRequest, FindCoordinatorResponse;
    JoinGroup = 11, versions 0..=9, flexible 6, JoinGroupRequest, JoinGroupResponse;
    Heartbeat = 12, versions 0..=4, flexible 4, HeartbeatRequest, HeartbeatResponse;
    LeaveGroup = 13, versions 0..=5, flexible 4, LeaveGroupRequest, LeaveGroupResponse;
    SyncGroup = 14, versions 0..=5, flexible 4, SyncGroupRequest, SyncGroupResponse;
    DescribeGroups = 15, versions 0..=5, flexible 5, DescribeGroupsRequest, DescribeGroupsResponse;
    ListGroups = 16, versions 0..=4, flexible 3, ListGroupsRequest, ListGroupsResponse;
    SaslHandshake = 17, versions 0..=1, flexible 32767, SaslHandshakeRequest, SaslHandshakeResponse;
    ApiVersions = 18, versions 0..=4, flexible 3, ApiVersionsRequest, ApiVersionsResponse;
    CreateTopics = 19, versions 2..=7, flexible 5, CreateTopicsRequest, CreateTopicsResponse;
    DeleteTopics = 20, versions 1..=6, flexible 4, DeleteTopicsRequest, DeleteTopicsResponse;
    DeleteRecords = 21, versions 0..=2, flexible 2, DeleteRecordsRequest, DeleteRecordsResponse;
    InitProducerId = 22, versions 0..=4, flexible 2, InitProducerIdRequest, InitProducerIdResponse;
    OffsetForLeaderEpoch = 23, versions 0..=4, flexible 4, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse;
    DescribeAcls = 29, versions 0..=3, flexible 2, DescribeAclsRequest, DescribeAclsResponse;
    CreateAcls = 30, versions 0..=3, flexible 2, CreateAclsRequest, CreateAclsResponse;
    DeleteAcls = 31, versions 0..=3, flexible 2, DeleteAclsRequest, DeleteAclsResponse;
    DescribeConfigs = 32, versions 1..=4, flexible 4, DescribeConfigsRequest, DescribeConfigsResponse;
    AlterConfigs = 33, versions 0..=2, flexible 2, AlterConfigsRequest, AlterConfigsResponse;
    DescribeLogDirs = 35, versions 0..=4, flexible 2, DescribeLogDirsRequest, DescribeLogDirsResponse;
    SaslAuthenticate = 36, versions 0..=2, flexible 2, SaslAuthenticateRequest, SaslAuthenticateResponse;
    CreatePartitions = 37, versions 0..=3, flexible 2, CreatePartitionsRequest, CreatePartitionsResponse;
    DeleteGroups = 42, versions 0..=2, flexible 2, DeleteGroupsRequest, DeleteGroupsResponse;
    ElectLeaders = 43, versions 0..=2, flexible 2, ElectLeadersRequest, ElectLeadersResponse;
    IncrementalAlterConfigs = 44, versions 0..=1, flexible 1, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse;
    AlterPartitionReassignments = 45, versions 0..=0, flexible 0, AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse;
    ListPartitionReassignments = 46, versions 0..=0, flexible 0, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse;
    OffsetDelete = 47, versions 0..=0, flexible 32767, OffsetDeleteRequest, OffsetDeleteResponse;
    DescribeUserScramCredentials = 50, versions 0..=0, flexible 0, DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse;
    AlterUserScramCredentials = 51, versions 0..=0, flexible 0, AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse;
    DescribeQuorum = 55, versions 0..=1, flexible 0, DescribeQuorumRequest, DescribeQuorumResponse;
    DescribeCluster = 60, versions 0..=1, flexible 0, DescribeClusterRequest, DescribeClusterResponse;
    DescribeProducers = 61, versions 0..=0, flexible 0, DescribeProducersRequest, DescribeProducersResponse;
}

impl ApiKey {
    /// This API's entry in [`SUPPORTED_VERSIONS`].
    pub fn versions(self) -> &'static ApiVersionRange {
        SUPPORTED_VERSIONS
            .iter()
            .find(|r| r.api_key == self)
            .expect("every ApiKey has a SUPPORTED_VERSIONS entry")
    }

    pub fn supports(self, version: i16) -> bool {
        let r = self.versions();
        (r.min_version..=r.max_version).contains(&version)
    }

    /// The body layout of `version` (which must be supported).
    pub fn layout(self, version: i16) -> Layout {
        Layout {
            version,
            flexible: version >= self.versions().flexible_min_version,
        }
    }

    /// Request header version used with `version` of this API.
    pub fn request_header_version(self, version: i16) -> i16 {
        if self.layout(version).flexible {
            2
        } else {
            1
        }
    }

    /// Response header version used with `version` of this API. ApiVersions
    /// responses always use v0 so that a client that does not yet know the
    /// broker's versions can read them (KIP-511); librdkafka relies on it.
    pub fn response_header_version(self, version: i16) -> i16 {
        if self != ApiKey::ApiVersions && self.layout(version).flexible {
            1
        } else {
            0
        }
    }
}

/// The ApiVersions response body listing [`SUPPORTED_VERSIONS`].
pub fn supported_api_versions() -> Vec<api_versions_response::ApiVersion> {
    SUPPORTED_VERSIONS
        .iter()
        .map(|r| api_versions_response::ApiVersion {
            api_key: r.api_key.code(),
            min_version: r.min_version,
            max_version: r.max_version,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (i, r) in SUPPORTED_VERSIONS.iter().enumerate() {
            assert!(r.min_version <= r.max_version, "{:?}", r.api_key);
            assert_eq!(ApiKey::from_code(r.api_key.code()), Some(r.api_key));
            assert!(
                SUPPORTED_VERSIONS[..i]
                    .iter()
                    .all(|o| o.api_key != r.api_key),
                "duplicate {:?}",
                r.api_key
            );
        }
        assert_eq!(SUPPORTED_VERSIONS.len(), ApiKey::ALL.len());
        assert_eq!(ApiKey::from_code(4), None);
    }

    #[test]
    fn header_versions() {
        assert_eq!(ApiKey::ApiVersions.response_header_version(3), 0);
        assert_eq!(ApiKey::ApiVersions.request_header_version(3), 2);
        assert_eq!(ApiKey::Metadata.request_header_version(8), 1);
        assert_eq!(ApiKey::Metadata.request_header_version(9), 2);
        assert_eq!(ApiKey::Metadata.response_header_version(9), 1);
        assert_eq!(ApiKey::SaslHandshake.request_header_version(1), 1);
        assert_eq!(ApiKey::Fetch.response_header_version(11), 0);
        assert_eq!(ApiKey::Fetch.response_header_version(12), 1);
    }
}
