//! Every message, every supported version: encode, decode, encode again.

use proptest::prelude::*;

use super::{decode_body, encode_body};
use crate::api::{ApiRequest, ApiResponse};
use crate::codec::Wire;
use crate::frame::{decode_request, decode_response, encode_request, encode_response};
use crate::msg::*;
use crate::testkit::{Gen, Sample};
use crate::{ApiKey, Request, RequestHeader};

/// A message that survives encode/decode/encode unchanged in `version`.
/// Fields absent from `version` come back as their defaults, so the check is
/// on the second encoding and on the decoded value being a fixed point.
fn round_trip<T: Wire + Sample + PartialEq + std::fmt::Debug>(
    api: ApiKey,
    version: i16,
    seed: u64,
) {
    let layout = api.layout(version);
    let original = T::sample(&mut Gen::new(seed));
    let first = encode_body(&original, layout);
    let decoded: T = decode_body(first.clone(), layout);
    let second = encode_body(&decoded, layout);
    assert_eq!(first, second, "{api:?} v{version} seed {seed}");
    let again: T = decode_body(second, layout);
    assert_eq!(decoded, again, "{api:?} v{version} seed {seed}");
}

/// The same through the framed entry points, headers included.
fn framed_round_trip<Q, R>(version: i16, seed: u64)
where
    Q: ApiRequest<Response = R> + Sample + Into<Request> + Clone,
    R: ApiResponse + Sample + PartialEq + std::fmt::Debug,
{
    let mut g = Gen::new(seed);
    let mut header = RequestHeader::new(Q::API_KEY, version, seed as i32);
    header.client_id = Option::<String>::sample(&mut g);
    let request = Q::sample(&mut g);
    let frame = encode_request(&header, &request).to_bytes().slice(4..);
    let (got_header, got) = decode_request(frame).expect("request decodes");
    assert_eq!(got_header, header);
    let layout = Q::API_KEY.layout(version);
    let request: Request = request.into();
    let mut expected = crate::codec::Encoder::new();
    request.encode_body(&mut expected, layout);
    let mut actual = crate::codec::Encoder::new();
    got.encode_body(&mut actual, layout);
    assert_eq!(
        actual.into_chunks().concat(),
        expected.into_chunks().concat()
    );

    let response = R::sample(&mut g);
    let frame = encode_response(seed as i32, version, &response)
        .to_bytes()
        .slice(4..);
    let (h, got) = decode_response::<R>(frame, version).expect("response decodes");
    assert_eq!(h.correlation_id, seed as i32);
    let again = encode_response(seed as i32, version, &got).to_bytes();
    assert_eq!(
        again,
        encode_response(seed as i32, version, &response).to_bytes()
    );
}

macro_rules! for_api {
    ($api:expr, $version:expr, $f:ident) => {
        match $api {
            ApiKey::Produce => $f!(ProduceRequest, ProduceResponse),
            ApiKey::Fetch => $f!(FetchRequest, FetchResponse),
            ApiKey::ListOffsets => $f!(ListOffsetsRequest, ListOffsetsResponse),
            ApiKey::Metadata => $f!(MetadataRequest, MetadataResponse),
            ApiKey::OffsetCommit => $f!(OffsetCommitRequest, OffsetCommitResponse),
            ApiKey::OffsetFetch => $f!(OffsetFetchRequest, OffsetFetchResponse),
            ApiKey::FindCoordinator => $f!(FindCoordinatorRequest, FindCoordinatorResponse),
            ApiKey::JoinGroup => $f!(JoinGroupRequest, JoinGroupResponse),
            ApiKey::Heartbeat => $f!(HeartbeatRequest, HeartbeatResponse),
            ApiKey::LeaveGroup => $f!(LeaveGroupRequest, LeaveGroupResponse),
            ApiKey::SyncGroup => $f!(SyncGroupRequest, SyncGroupResponse),
            ApiKey::DescribeGroups => $f!(DescribeGroupsRequest, DescribeGroupsResponse),
            ApiKey::ListGroups => $f!(ListGroupsRequest, ListGroupsResponse),
            ApiKey::SaslHandshake => $f!(SaslHandshakeRequest, SaslHandshakeResponse),
            ApiKey::ApiVersions => $f!(ApiVersionsRequest, ApiVersionsResponse),
            ApiKey::CreateTopics => $f!(CreateTopicsRequest, CreateTopicsResponse),
            ApiKey::DeleteTopics => $f!(DeleteTopicsRequest, DeleteTopicsResponse),
            ApiKey::InitProducerId => $f!(InitProducerIdRequest, InitProducerIdResponse),
            ApiKey::DescribeConfigs => $f!(DescribeConfigsRequest, DescribeConfigsResponse),
            ApiKey::SaslAuthenticate => $f!(SaslAuthenticateRequest, SaslAuthenticateResponse),
            ApiKey::DeleteGroups => $f!(DeleteGroupsRequest, DeleteGroupsResponse),
            ApiKey::DescribeCluster => $f!(DescribeClusterRequest, DescribeClusterResponse),
            ApiKey::CreatePartitions => $f!(CreatePartitionsRequest, CreatePartitionsResponse),
            ApiKey::DescribeQuorum => $f!(DescribeQuorumRequest, DescribeQuorumResponse),
            ApiKey::OffsetForLeaderEpoch => {
                $f!(OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse)
            }
            ApiKey::ElectLeaders => $f!(ElectLeadersRequest, ElectLeadersResponse),
            ApiKey::AlterPartitionReassignments => $f!(
                AlterPartitionReassignmentsRequest,
                AlterPartitionReassignmentsResponse
            ),
            ApiKey::ListPartitionReassignments => $f!(
                ListPartitionReassignmentsRequest,
                ListPartitionReassignmentsResponse
            ),
            ApiKey::AlterConfigs => $f!(AlterConfigsRequest, AlterConfigsResponse),
            ApiKey::IncrementalAlterConfigs => $f!(
                IncrementalAlterConfigsRequest,
                IncrementalAlterConfigsResponse
            ),
            ApiKey::DeleteRecords => $f!(DeleteRecordsRequest, DeleteRecordsResponse),
            ApiKey::OffsetDelete => $f!(OffsetDeleteRequest, OffsetDeleteResponse),
            ApiKey::DescribeLogDirs => $f!(DescribeLogDirsRequest, DescribeLogDirsResponse),
            ApiKey::DescribeProducers => $f!(DescribeProducersRequest, DescribeProducersResponse),
            ApiKey::DescribeAcls => $f!(DescribeAclsRequest, DescribeAclsResponse),
            ApiKey::CreateAcls => $f!(CreateAclsRequest, CreateAclsResponse),
            ApiKey::DeleteAcls => $f!(DeleteAclsRequest, DeleteAclsResponse),
            ApiKey::DescribeUserScramCredentials => $f!(
                DescribeUserScramCredentialsRequest,
                DescribeUserScramCredentialsResponse
            ),
            ApiKey::AlterUserScramCredentials => $f!(
                AlterUserScramCredentialsRequest,
                AlterUserScramCredentialsResponse
            ),
        }
    };
}
pub(crate) use for_api;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_message_round_trips_in_every_version(seed in any::<u64>()) {
        super::for_every_version(|api, version| {
            macro_rules! check {
                ($req:ty, $resp:ty) => {{
                    round_trip::<$req>(api, version, seed);
                    round_trip::<$resp>(api, version, seed);
                    framed_round_trip::<$req, $resp>(version, seed);
                }};
            }
            for_api!(api, version, check)
        });
    }
}
