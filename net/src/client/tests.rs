//! The client against a scripted broker built on this crate's codec: what
//! it writes on the wire (batches, sequences, order) and how it reacts to
//! broker errors.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use storage::batch::BatchHeader;

use super::*;
use crate::api::{supported_api_versions, Request};
use crate::error::ErrorCode;
use crate::frame::{decode_request, encode_response};
use crate::msg::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use crate::msg::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use crate::msg::*;

/// What the scripted broker saw: one entry per produced batch.
#[derive(Debug, Default)]
struct Seen {
    /// (base sequence, record count, producer id, CRC) of each batch, in
    /// arrival order, failed attempts included.
    batches: Vec<(i32, i32, i64, u32)>,
    next_offset: i64,
    /// Produce requests still to be refused with NOT_LEADER_OR_FOLLOWER.
    refuse: u32,
    /// Offset commits as (generation, member id, topic, partition, offset).
    commits: Vec<(i32, String, String, i32, i64)>,
}

/// The one group the scripted broker runs: member "m1" alone, generation 7.
const GENERATION: i32 = 7;
const MEMBER: &str = "m1";

fn serve(mut s: TcpStream, port: u16, seen: Arc<Mutex<Seen>>) {
    loop {
        let mut len = [0u8; 4];
        if s.read_exact(&mut len).is_err() {
            return;
        }
        let mut frame = vec![0u8; i32::from_be_bytes(len) as usize];
        s.read_exact(&mut frame).unwrap();
        let (h, req) = decode_request(Bytes::from(frame)).unwrap();
        let (id, v) = (h.correlation_id, h.api_version);
        let out = match req {
            Request::ApiVersions(_) => encode_response(
                id,
                v,
                &ApiVersionsResponse {
                    api_keys: supported_api_versions(),
                    ..Default::default()
                },
            ),
            Request::Metadata(_) => encode_response(
                id,
                v,
                &MetadataResponse {
                    brokers: vec![MetadataResponseBroker {
                        node_id: 0,
                        host: "127.0.0.1".into(),
                        port: port as i32,
                        rack: None,
                    }],
                    topics: vec![MetadataResponseTopic {
                        name: Some("t".into()),
                        partitions: vec![MetadataResponsePartition {
                            partition_index: 0,
                            leader_id: 0,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ),
            Request::InitProducerId(_) => encode_response(
                id,
                v,
                &InitProducerIdResponse {
                    producer_id: 42,
                    producer_epoch: 3,
                    ..Default::default()
                },
            ),
            Request::Produce(p) => {
                let mut seen = seen.lock().unwrap();
                let refuse = seen.refuse > 0;
                seen.refuse = seen.refuse.saturating_sub(1);
                let mut responses = Vec::new();
                for t in &p.topic_data {
                    let mut parts = Vec::new();
                    for d in &t.partition_data {
                        let records = d.records.clone().unwrap();
                        let hd = BatchHeader::parse(&records).unwrap();
                        storage::batch::verify_crc(&records).unwrap();
                        seen.batches.push((
                            hd.base_sequence,
                            hd.record_count,
                            hd.producer_id,
                            hd.crc,
                        ));
                        let (error_code, base_offset) = if refuse {
                            (ErrorCode::NotLeaderOrFollower.code(), -1)
                        } else {
                            let at = seen.next_offset;
                            seen.next_offset += hd.record_count as i64;
                            (0, at)
                        };
                        parts.push(PartitionProduceResponse {
                            index: d.index,
                            error_code,
                            base_offset,
                            ..Default::default()
                        });
                    }
                    responses.push(TopicProduceResponse {
                        name: t.name.clone(),
                        partition_responses: parts,
                    });
                }
                encode_response(
                    id,
                    v,
                    &ProduceResponse {
                        responses,
                        ..Default::default()
                    },
                )
            }
            Request::FindCoordinator(r) => encode_response(
                id,
                v,
                &FindCoordinatorResponse {
                    node_id: 0,
                    host: "127.0.0.1".into(),
                    port: port as i32,
                    coordinators: r
                        .coordinator_keys
                        .iter()
                        .map(|key| find_coordinator_response::Coordinator {
                            key: key.clone(),
                            node_id: 0,
                            host: "127.0.0.1".into(),
                            port: port as i32,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                },
            ),
            Request::JoinGroup(r) => encode_response(
                id,
                v,
                &JoinGroupResponse {
                    generation_id: GENERATION,
                    protocol_name: Some("range".into()),
                    leader: MEMBER.into(),
                    member_id: MEMBER.into(),
                    members: vec![join_group_response::JoinGroupResponseMember {
                        member_id: MEMBER.into(),
                        metadata: r.protocols[0].metadata.clone(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ),
            Request::SyncGroup(r) => encode_response(
                id,
                v,
                &SyncGroupResponse {
                    assignment: r.assignments[0].assignment.clone(),
                    ..Default::default()
                },
            ),
            Request::OffsetCommit(r) => {
                let mut seen = seen.lock().unwrap();
                let mut topics = Vec::new();
                for t in &r.topics {
                    let mut partitions = Vec::new();
                    for p in &t.partitions {
                        seen.commits.push((
                            r.generation_id_or_member_epoch,
                            r.member_id.clone(),
                            t.name.clone(),
                            p.partition_index,
                            p.committed_offset,
                        ));
                        partitions.push(offset_commit_response::OffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            // Partition 9 stands for a refused one.
                            error_code: if p.partition_index == 9 {
                                ErrorCode::IllegalGeneration.code()
                            } else {
                                0
                            },
                        });
                    }
                    topics.push(offset_commit_response::OffsetCommitResponseTopic {
                        name: t.name.clone(),
                        partitions,
                    });
                }
                encode_response(
                    id,
                    v,
                    &OffsetCommitResponse {
                        topics,
                        ..Default::default()
                    },
                )
            }
            Request::OffsetFetch(r) => {
                let seen = seen.lock().unwrap();
                let topics = r
                    .topics
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| offset_fetch_response::OffsetFetchResponseTopic {
                        partitions: t
                            .partition_indexes
                            .iter()
                            .map(|&p| offset_fetch_response::OffsetFetchResponsePartition {
                                partition_index: p,
                                committed_offset: seen
                                    .commits
                                    .iter()
                                    .rev()
                                    .find(|c| c.2 == t.name && c.3 == p)
                                    .map_or(-1, |c| c.4),
                                ..Default::default()
                            })
                            .collect(),
                        name: t.name,
                    })
                    .collect();
                encode_response(
                    id,
                    v,
                    &OffsetFetchResponse {
                        topics,
                        ..Default::default()
                    },
                )
            }
            Request::Heartbeat(_) => encode_response(id, v, &HeartbeatResponse::default()),
            other => panic!("unexpected request {:?}", other.api_key()),
        };
        s.write_all(&out.to_bytes()).unwrap();
    }
}

fn scripted_broker(refuse: u32) -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen {
        refuse,
        ..Default::default()
    }));
    let shared = seen.clone();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let (s, shared) = (s.unwrap(), shared.clone());
            std::thread::spawn(move || serve(s, port, shared));
        }
    });
    (format!("127.0.0.1:{port}"), seen)
}

fn run<T: 'static>(f: impl std::future::Future<Output = T> + 'static) -> T {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(256 * 1024)
        .make()
        .unwrap()
        .run(f)
}

#[test]
fn idempotent_producer_retries_with_the_same_sequence_and_keeps_order() {
    let (addr, seen) = scripted_broker(1);
    let deliveries = run(async move {
        let client = Client::connect(ClientConfig::new(addr)).await.unwrap();
        let config = ProducerConfig {
            idempotent: true,
            codec: Codec::Lz4,
            ..Default::default()
        };
        let (producer, rx) = Producer::new(client, config).await.unwrap();
        let topic: Rc<str> = "t".into();
        let mut out = Vec::new();
        // Batch A (refused once, then retried); then B (2 records) and C
        // pipelined behind each other.
        producer.send(&topic, 0, None, b"a", 1, 10);
        producer.flush();
        out.push(rx.recv().await.unwrap());
        producer.send(&topic, 0, Some(b"k"), b"b1", 2, 20);
        producer.send(&topic, 0, None, b"b2", 2, 21);
        producer.flush();
        producer.send(&topic, 0, None, b"c", 3, 30);
        producer.flush();
        out.push(rx.recv().await.unwrap());
        out.push(rx.recv().await.unwrap());
        out
    });
    let summary: Vec<_> = deliveries
        .iter()
        .map(|d| (d.tags.clone(), d.result.clone().unwrap(), d.retries))
        .collect();
    assert_eq!(
        summary,
        [(vec![10], 0, 1), (vec![20, 21], 1, 0), (vec![30], 3, 0)]
    );
    let seen = seen.lock().unwrap();
    let sequences: Vec<(i32, i32, i64)> = seen.batches.iter().map(|b| (b.0, b.1, b.2)).collect();
    assert_eq!(sequences, [(0, 1, 42), (0, 1, 42), (1, 2, 42), (3, 1, 42)]);
    assert_eq!(
        seen.batches[0].3, seen.batches[1].3,
        "the retry resends the very same batch"
    );
}

#[test]
fn refused_connections_and_bad_configs_are_clear_errors() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let err = run(async move {
        Client::connect(ClientConfig::new(addr))
            .await
            .err()
            .unwrap()
    });
    assert!(matches!(err, ClientError::Connect { .. }), "{err}");
    assert!(err.to_string().contains("cannot connect"), "{err}");

    let (addr, _) = scripted_broker(0);
    let err = run(async move {
        let client = Client::connect(ClientConfig::new(addr)).await.unwrap();
        let config = ProducerConfig {
            idempotent: true,
            acks: 1,
            ..Default::default()
        };
        Producer::new(client, config).await.err().unwrap()
    });
    assert!(matches!(err, ClientError::Config(_)), "{err}");
}

#[test]
fn retries_stop_after_the_limit() {
    let (addr, seen) = scripted_broker(u32::MAX);
    let d = run(async move {
        let mut config = ClientConfig::new(addr);
        config.request_timeout = Duration::from_secs(2);
        let client = Client::connect(config).await.unwrap();
        let (producer, rx) = Producer::new(client, ProducerConfig::default())
            .await
            .unwrap();
        producer.send(&"t".into(), 0, None, b"x", 1, 7);
        producer.flush();
        rx.recv().await.unwrap()
    });
    assert_eq!(d.retries, limits::PRODUCE_RETRIES_MAX);
    match d.result {
        Err(ClientError::Broker { code, .. }) => assert_eq!(code, ErrorCode::NotLeaderOrFollower),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        seen.lock().unwrap().batches.len() as u32,
        limits::PRODUCE_RETRIES_MAX + 1
    );
}

#[test]
fn a_member_commits_with_its_generation_and_reads_its_commits_back() {
    let (addr, seen) = scripted_broker(0);
    let (answers, committed) = run(async move {
        let client = Client::connect(ClientConfig::new(addr)).await.unwrap();
        let (member, assignment) = GroupMember::join(&client, "g", &["t".to_string()])
            .await
            .unwrap();
        assert_eq!(assignment["t"], [0]);
        assert_eq!(
            (member.member_id(), member.generation()),
            (MEMBER, GENERATION)
        );
        let before = member.committed("t", &[0, 1]).await.unwrap();
        assert_eq!(before, [(0, -1), (1, -1)], "nothing committed yet");
        let answers = member.commit("t", &[(0, 12), (9, 3)]).await.unwrap();
        (answers, member.committed("t", &[0]).await.unwrap())
    });
    assert_eq!(
        answers,
        [(0, ErrorCode::None), (9, ErrorCode::IllegalGeneration)]
    );
    assert_eq!(committed, [(0, 12)]);
    let commits = &seen.lock().unwrap().commits;
    assert_eq!(
        commits[0],
        (GENERATION, MEMBER.to_string(), "t".to_string(), 0, 12)
    );
}
