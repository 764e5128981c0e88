//! Differential tests against kafka-protocol, an independent implementation
//! of the same schemas: what Sluice encodes, kafka-protocol must decode and
//! re-encode to the same bytes, and Sluice must decode kafka-protocol's
//! encoding back to the same message. Full frames are checked too, so header
//! versions (including ApiVersions' fixed response header v0) agree.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages as kp;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message};
use proptest::prelude::*;

use super::roundtrip::for_api;
use super::{decode_body, encode_body};
use crate::api::{ApiRequest, ApiResponse};
use crate::codec::Wire;
use crate::frame::{encode_request, encode_response};
use crate::msg::*;
use crate::testkit::{Gen, Sample};
use crate::{ApiKey, RequestHeader};

fn through_kafka_protocol<K: Decodable + Encodable + std::fmt::Debug>(
    ours: Bytes,
    version: i16,
    what: &str,
) -> Bytes {
    let mut input = ours.clone();
    let theirs = K::decode(&mut input, version)
        .unwrap_or_else(|e| panic!("kafka-protocol cannot decode {what}: {e}"));
    assert!(input.is_empty(), "kafka-protocol left bytes of {what}");
    assert_no_unknown_tags(&theirs, what);
    let mut out = BytesMut::new();
    theirs
        .encode(&mut out, version)
        .unwrap_or_else(|e| panic!("kafka-protocol cannot re-encode {what}: {e}"));
    out.freeze()
}

/// kafka-protocol keeps tagged fields it does not know and writes them back
/// unchanged, so byte equality alone would pass a field Sluice writes under
/// the wrong tag. Every tag Sluice writes must be one kafka-protocol knows.
/// (Its structures have no common accessor for these maps; their `Debug` form
/// names each one.)
fn assert_no_unknown_tags(theirs: &impl std::fmt::Debug, what: &str) {
    let debug = format!("{theirs:?}");
    assert!(
        !debug
            .replace("unknown_tagged_fields: {}", "")
            .contains("unknown_tagged_fields"),
        "kafka-protocol found tagged fields it does not know in {what}: {debug}"
    );
}

fn differential<T, K>(api: ApiKey, version: i16, seed: u64)
where
    T: Wire + Sample + PartialEq + std::fmt::Debug,
    K: Decodable + Encodable + std::fmt::Debug,
{
    let layout = api.layout(version);
    let what = format!("{} v{version} seed {seed}", std::any::type_name::<T>());
    let ours = encode_body(&T::sample(&mut Gen::new(seed)), layout);
    let theirs = through_kafka_protocol::<K>(ours.clone(), version, &what);
    assert_eq!(ours, theirs, "{what}: encodings differ");
    let back: T = decode_body(theirs, layout);
    assert_eq!(encode_body(&back, layout), ours, "{what}");
}

/// Full request and response frames: kafka-protocol parses our headers with
/// the header versions it derives itself.
fn differential_frames<Q, R, KQ, KR>(version: i16, seed: u64)
where
    Q: ApiRequest<Response = R> + Sample,
    R: ApiResponse + Sample,
    KQ: Decodable + Encodable + HeaderVersion + std::fmt::Debug,
    KR: Decodable + Encodable + HeaderVersion + std::fmt::Debug,
{
    let mut g = Gen::new(seed);
    let mut header = RequestHeader::new(Q::API_KEY, version, seed as i32);
    header.client_id = Some(String::sample(&mut g));
    let frame = encode_request(&header, &Q::sample(&mut g)).to_bytes();
    let mut buf = frame.slice(4..);
    let theirs = kp::RequestHeader::decode(&mut buf, KQ::header_version(version)).unwrap();
    assert_eq!(theirs.request_api_key, Q::API_KEY.code());
    assert_eq!(theirs.request_api_version, version);
    assert_eq!(theirs.correlation_id, seed as i32);
    assert_eq!(theirs.client_id.as_deref(), header.client_id.as_deref());
    let request = KQ::decode(&mut buf, version).unwrap();
    assert!(buf.is_empty());
    assert_no_unknown_tags(&(&theirs, &request), "request frame");

    let frame = encode_response(seed as i32, version, &R::sample(&mut g)).to_bytes();
    let mut buf = frame.slice(4..);
    let theirs = kp::ResponseHeader::decode(&mut buf, KR::header_version(version)).unwrap();
    assert_eq!(theirs.correlation_id, seed as i32);
    let response = KR::decode(&mut buf, version).unwrap();
    assert!(buf.is_empty());
    assert_no_unknown_tags(&(&theirs, &response), "response frame");
}

/// Versions Sluice supports that kafka-protocol 0.18 no longer implements:
/// it follows Kafka 4.0's schemas, which dropped them (KIP-896). Their bytes
/// are pinned by hand-annotated golden tests in `legacy_versions` instead.
const ORACLE_LACKS: &[(ApiKey, i16)] = &[
    (ApiKey::OffsetForLeaderEpoch, 0),
    (ApiKey::OffsetForLeaderEpoch, 1),
    (ApiKey::DescribeAcls, 0),
    (ApiKey::CreateAcls, 0),
    (ApiKey::DeleteAcls, 0),
    (ApiKey::DescribeLogDirs, 0),
];

fn oracle_knows<K: Message>(version: i16) -> bool {
    (K::VERSIONS.min..=K::VERSIONS.max).contains(&version)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn kafka_protocol_agrees_on_every_message_and_version(seed in any::<u64>()) {
        let mut skipped = Vec::new();
        super::for_every_version(|api, version| {
            macro_rules! check {
                ($req:ident, $resp:ident) => {{
                    let known = oracle_knows::<kp::$req>(version);
                    assert_eq!(known, oracle_knows::<kp::$resp>(version), "{api:?} v{version}");
                    if known {
                        differential::<$req, kp::$req>(api, version, seed);
                        differential::<$resp, kp::$resp>(api, version, seed);
                        differential_frames::<$req, $resp, kp::$req, kp::$resp>(version, seed);
                    } else {
                        skipped.push((api, version));
                    }
                }};
            }
            for_api!(api, version, check)
        });
        // Nothing is skipped silently: only the listed versions go without
        // the oracle.
        prop_assert_eq!(skipped, ORACLE_LACKS);
    }
}

fn kp_decode<K: Decodable>(bytes: Bytes, version: i16) -> K {
    let mut buf = bytes;
    let out = K::decode(&mut buf, version).expect("kafka-protocol decodes");
    assert!(buf.is_empty());
    out
}

/// Byte equality cannot see two adjacent fields of one type swapped; these
/// checks read distinct values back field by field through kafka-protocol's
/// own accessors, for the responses the broker sends most.
#[test]
fn kafka_protocol_reads_each_field_where_sluice_wrote_it() {
    use crate::msg::{fetch_response as f, metadata_response as m, produce_response as p};

    let metadata = MetadataResponse {
        throttle_time_ms: 11,
        brokers: vec![m::MetadataResponseBroker {
            node_id: 12,
            host: "h".into(),
            port: 13,
            rack: Some("r".into()),
        }],
        cluster_id: Some("c".into()),
        controller_id: 14,
        topics: vec![m::MetadataResponseTopic {
            error_code: 15,
            name: Some("t".into()),
            topic_id: crate::Uuid([16; 16]),
            is_internal: true,
            partitions: vec![m::MetadataResponsePartition {
                error_code: 17,
                partition_index: 18,
                leader_id: 19,
                leader_epoch: 20,
                replica_nodes: vec![21],
                isr_nodes: vec![22],
                offline_replicas: vec![23],
            }],
            topic_authorized_operations: 24,
        }],
        cluster_authorized_operations: 25,
    };
    for version in [1, 7, 9, 10, 12] {
        let layout = ApiKey::Metadata.layout(version);
        let k: kp::MetadataResponse = kp_decode(encode_body(&metadata, layout), version);
        assert_eq!(k.throttle_time_ms, if version >= 3 { 11 } else { 0 });
        assert_eq!((k.brokers[0].node_id.0, k.brokers[0].port), (12, 13));
        assert_eq!(k.controller_id.0, 14);
        let t = &k.topics[0];
        assert_eq!((t.error_code, t.is_internal), (15, true));
        let q = &t.partitions[0];
        assert_eq!(
            (q.error_code, q.partition_index, q.leader_id.0),
            (17, 18, 19)
        );
        assert_eq!(q.replica_nodes[0].0, 21);
        assert_eq!(q.isr_nodes[0].0, 22);
        if version >= 7 {
            assert_eq!(q.leader_epoch, 20);
        }
        if version >= 10 {
            assert_eq!(t.topic_id.as_bytes(), &[16; 16]);
        }
    }

    let produce = ProduceResponse {
        responses: vec![p::TopicProduceResponse {
            name: "t".into(),
            partition_responses: vec![p::PartitionProduceResponse {
                index: 31,
                error_code: 32,
                base_offset: 33,
                log_append_time_ms: 34,
                log_start_offset: 35,
                record_errors: vec![],
                error_message: Some("e".into()),
                current_leader: p::LeaderIdAndEpoch {
                    leader_id: 36,
                    leader_epoch: 37,
                },
            }],
        }],
        throttle_time_ms: 38,
        node_endpoints: vec![p::NodeEndpoint {
            node_id: 39,
            host: "n".into(),
            port: 40,
            rack: Some("k".into()),
        }],
    };
    for version in [3, 8, 9, 10, 11] {
        let layout = ApiKey::Produce.layout(version);
        let k: kp::ProduceResponse = kp_decode(encode_body(&produce, layout), version);
        let q = &k.responses[0].partition_responses[0];
        assert_eq!((q.index, q.error_code), (31, 32));
        assert_eq!((q.base_offset, q.log_append_time_ms), (33, 34));
        assert_eq!(k.throttle_time_ms, 38);
        if version >= 5 {
            assert_eq!(q.log_start_offset, 35);
        }
        if version >= 10 {
            assert_eq!(
                (q.current_leader.leader_id.0, q.current_leader.leader_epoch),
                (36, 37)
            );
            let n = &k.node_endpoints[0];
            assert_eq!((n.node_id.0, &*n.host, n.port), (39, "n", 40));
            assert_eq!(n.rack.as_deref(), Some("k"));
        } else {
            assert!(k.node_endpoints.is_empty());
        }
    }

    // Two chunks, as a fetch spanning two cached batches hands them over:
    // kafka-protocol must read them back as one contiguous field.
    let records = Bytes::from_static(b"opaque batches");
    let chunked = crate::RecordSet::from_chunks(vec![records.slice(..7), records.slice(7..)]);
    let fetch = FetchResponse {
        throttle_time_ms: 41,
        error_code: 42,
        session_id: 43,
        responses: vec![f::FetchableTopicResponse {
            topic: "t".into(),
            partitions: vec![f::PartitionData {
                partition_index: 44,
                error_code: 45,
                high_watermark: 46,
                last_stable_offset: 47,
                log_start_offset: 48,
                aborted_transactions: Some(vec![f::AbortedTransaction {
                    producer_id: 49,
                    first_offset: 50,
                }]),
                preferred_read_replica: 51,
                records: Some(chunked),
                ..Default::default()
            }],
        }],
    };
    for version in [4, 7, 11, 12] {
        let layout = ApiKey::Fetch.layout(version);
        let k: kp::FetchResponse = kp_decode(encode_body(&fetch, layout), version);
        assert_eq!(k.throttle_time_ms, 41);
        let q = &k.responses[0].partitions[0];
        assert_eq!((q.partition_index, q.error_code), (44, 45));
        assert_eq!((q.high_watermark, q.last_stable_offset), (46, 47));
        let aborted = &q.aborted_transactions.as_ref().unwrap()[0];
        assert_eq!((aborted.producer_id.0, aborted.first_offset), (49, 50));
        assert_eq!(q.records.as_ref(), Some(&records));
        if version >= 7 {
            assert_eq!((k.error_code, k.session_id), (42, 43));
        }
        if version >= 11 {
            assert_eq!(q.preferred_read_replica.0, 51);
        }
    }
}

/// KIP-951 in the other direction: the leader hints kafka-protocol writes
/// into a Produce response (as a Kafka broker does with
/// NOT_LEADER_OR_FOLLOWER) come out of Sluice's decoder field by field.
#[test]
fn sluice_reads_kip_951_leader_hints_kafka_protocol_wrote() {
    use crate::msg::produce_response as p;
    use kafka_protocol::messages::produce_response as kpp;

    let leader = kpp::LeaderIdAndEpoch::default()
        .with_leader_id(kp::BrokerId(7))
        .with_leader_epoch(12);
    let partition = kpp::PartitionProduceResponse::default()
        .with_index(3)
        .with_error_code(crate::ErrorCode::NotLeaderOrFollower.code())
        .with_current_leader(leader);
    let topic = kpp::TopicProduceResponse::default()
        .with_name(kp::TopicName("t".into()))
        .with_partition_responses(vec![partition]);
    let endpoint = kpp::NodeEndpoint::default()
        .with_node_id(kp::BrokerId(7))
        .with_host("broker-7".into())
        .with_port(9092)
        .with_rack(Some("rack-b".into()));
    let theirs = kp::ProduceResponse::default()
        .with_responses(vec![topic])
        .with_node_endpoints(vec![endpoint]);
    for version in [10, 11] {
        let mut wire = BytesMut::new();
        theirs.encode(&mut wire, version).unwrap();
        let ours: ProduceResponse = decode_body(wire.freeze(), ApiKey::Produce.layout(version));
        let q = &ours.responses[0].partition_responses[0];
        assert_eq!(q.error_code, crate::ErrorCode::NotLeaderOrFollower.code());
        assert_eq!(
            q.current_leader,
            p::LeaderIdAndEpoch {
                leader_id: 7,
                leader_epoch: 12
            }
        );
        assert_eq!(
            ours.node_endpoints,
            [p::NodeEndpoint {
                node_id: 7,
                host: "broker-7".into(),
                port: 9092,
                rack: Some("rack-b".into()),
            }]
        );
    }
}
