//! A scripted single-partition responder on 127.0.0.1 that real Kafka
//! clients can produce to and consume from, written only with `net`'s codec.
//! It saves the first request frame of each API and version it receives, so
//! that frames from kcat, kafka-python and confluent-kafka can be checked in
//! as golden test data (see `net/tests/data/README.md`).
//!
//! Usage: `cargo run -p net --example golden_capture -- PORT OUT_DIR PREFIX`
//!
//! It keeps produced batches in memory (one partition per topic) and serves
//! them back on Fetch, acting as group coordinator for a single member. It is
//! a test fixture, not a broker: no persistence, no limits beyond the codec's.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use net::msg::*;
use net::records::{batches, validate_produced};
use net::{
    decode_request_lenient, encode_any_response, encode_api_versions_fallback, FrameDecoder,
    RecordSet, Request, RequestError, Response,
};

#[derive(Default)]
struct State {
    /// Batches per topic, stamped with their offsets.
    logs: BTreeMap<String, Vec<Bytes>>,
    saved: BTreeSet<(i16, i16)>,
    committed: BTreeMap<(String, i32), i64>,
}

struct Fixture {
    port: i32,
    out_dir: PathBuf,
    prefix: String,
    state: Mutex<State>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, port, out_dir, prefix] = args.as_slice() else {
        eprintln!("usage: golden_capture PORT OUT_DIR PREFIX");
        std::process::exit(2);
    };
    let listener =
        TcpListener::bind(("127.0.0.1", port.parse::<u16>().expect("port"))).expect("bind");
    std::fs::create_dir_all(out_dir).expect("out dir");
    let fixture = Arc::new(Fixture {
        port: i32::from(listener.local_addr().unwrap().port()),
        out_dir: out_dir.into(),
        prefix: prefix.clone(),
        state: Mutex::default(),
    });
    eprintln!("listening on {}", listener.local_addr().unwrap());
    for stream in listener.incoming() {
        let stream = stream.expect("accept");
        let fixture = fixture.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(&fixture, stream) {
                eprintln!("connection ended: {e}");
            }
        });
    }
}

fn serve(fixture: &Fixture, mut stream: TcpStream) -> std::io::Result<()> {
    let frames = FrameDecoder::default();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        while let Some(frame) = frames.decode(&mut buf).map_err(std::io::Error::other)? {
            let raw = frame.clone();
            // Lenient like the broker: some clients put bytes after a body.
            let reply = match decode_request_lenient(frame) {
                Ok((header, request, ignored)) => {
                    if ignored > 0 {
                        fixture.save_trailing(header.api_key, header.api_version, &raw);
                    }
                    fixture.save(header.api_key.code(), header.api_version, &raw);
                    let response = fixture.answer(&request);
                    encode_any_response(header.correlation_id, header.api_version, &response)
                }
                Err(RequestError::UnsupportedVersion {
                    api_key: net::ApiKey::ApiVersions,
                    correlation_id,
                    ..
                }) => encode_api_versions_fallback(correlation_id),
                Err(e) => return Err(std::io::Error::other(e)),
            };
            for part in reply.chunks() {
                stream.write_all(part)?;
            }
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

impl Fixture {
    fn save(&self, api_key: i16, api_version: i16, frame: &Bytes) {
        let mut state = self.state.lock().unwrap();
        if state.saved.insert((api_key, api_version)) {
            let name = net::ApiKey::from_code(api_key).unwrap().name();
            let path = self
                .out_dir
                .join(format!("{}-{}-v{}.bin", self.prefix, name, api_version));
            std::fs::write(path, frame).expect("write golden frame");
        }
    }

    /// Keeps the first frame per API and version that had bytes after its
    /// body (a client quirk the broker tolerates, as Kafka does).
    fn save_trailing(&self, api_key: net::ApiKey, api_version: i16, frame: &Bytes) {
        let mut state = self.state.lock().unwrap();
        if state.saved.insert((-1 - api_key.code(), api_version)) {
            let path = self.out_dir.join(format!(
                "{}-{}-v{}.trailing",
                self.prefix,
                api_key.name(),
                api_version
            ));
            std::fs::write(path, frame).expect("write golden frame");
        }
    }

    fn answer(&self, request: &Request) -> Response {
        let mut state = self.state.lock().unwrap();
        match request {
            Request::ApiVersions(_) => ApiVersionsResponse {
                api_keys: net::api::supported_api_versions(),
                ..Default::default()
            }
            .into(),
            Request::Metadata(r) => {
                let names: Vec<String> = match &r.topics {
                    Some(topics) if !topics.is_empty() => {
                        topics.iter().filter_map(|t| t.name.clone()).collect()
                    }
                    _ => state.logs.keys().cloned().collect(),
                };
                for name in &names {
                    state.logs.entry(name.clone()).or_default();
                }
                MetadataResponse {
                    brokers: vec![metadata_response::MetadataResponseBroker {
                        node_id: 0,
                        host: "127.0.0.1".into(),
                        port: self.port,
                        rack: None,
                    }],
                    cluster_id: Some("golden-cluster".into()),
                    controller_id: 0,
                    topics: names
                        .into_iter()
                        .enumerate()
                        .map(|(i, name)| metadata_response::MetadataResponseTopic {
                            name: Some(name),
                            topic_id: net::Uuid([i as u8 + 1; 16]),
                            partitions: vec![metadata_response::MetadataResponsePartition {
                                leader_id: 0,
                                leader_epoch: 0,
                                replica_nodes: vec![0],
                                isr_nodes: vec![0],
                                ..Default::default()
                            }],
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }
                .into()
            }
            Request::Produce(r) => {
                let mut responses = Vec::new();
                for topic in &r.topic_data {
                    let log = state.logs.entry(topic.name.clone()).or_default();
                    let mut partition_responses = Vec::new();
                    for p in &topic.partition_data {
                        let mut base_offset = -1;
                        let mut error_code = 0;
                        for batch in batches(p.records.as_ref().unwrap_or(&Bytes::new())) {
                            let result = batch.map_err(|e| e.error_code()).and_then(|b| {
                                validate_produced(&b)
                                    .map(|()| b)
                                    .map_err(|e| e.error_code())
                            });
                            match result {
                                Ok(b) => {
                                    let next: i64 =
                                        log.iter().map(|b| i64::from(record_count(b))).sum();
                                    let mut owned = b.bytes.to_vec();
                                    storage::batch::stamp(&mut owned, next, 0);
                                    if base_offset < 0 {
                                        base_offset = next;
                                    }
                                    log.push(Bytes::from(owned));
                                }
                                Err(code) => error_code = code.code(),
                            }
                        }
                        partition_responses.push(produce_response::PartitionProduceResponse {
                            index: p.index,
                            error_code,
                            base_offset,
                            log_start_offset: 0,
                            ..Default::default()
                        });
                    }
                    responses.push(produce_response::TopicProduceResponse {
                        name: topic.name.clone(),
                        partition_responses,
                    });
                }
                ProduceResponse {
                    responses,
                    ..Default::default()
                }
                .into()
            }
            Request::ListOffsets(r) => ListOffsetsResponse {
                topics: r
                    .topics
                    .iter()
                    .map(|t| {
                        let end = end_offset(state.logs.get(&t.name));
                        list_offsets_response::ListOffsetsTopicResponse {
                            name: t.name.clone(),
                            partitions: t
                                .partitions
                                .iter()
                                .map(|p| list_offsets_response::ListOffsetsPartitionResponse {
                                    partition_index: p.partition_index,
                                    offset: if p.timestamp == -1 { end } else { 0 },
                                    leader_epoch: 0,
                                    ..Default::default()
                                })
                                .collect(),
                        }
                    })
                    .collect(),
                ..Default::default()
            }
            .into(),
            Request::Fetch(r) => FetchResponse {
                responses: r
                    .topics
                    .iter()
                    .map(|t| {
                        let log = state.logs.get(&t.topic);
                        let end = end_offset(log);
                        fetch_response::FetchableTopicResponse {
                            topic: t.topic.clone(),
                            partitions: t
                                .partitions
                                .iter()
                                .map(|p| {
                                    let batches: Vec<Bytes> = log
                                        .into_iter()
                                        .flatten()
                                        .filter(|b| last_offset(b) >= p.fetch_offset)
                                        .cloned()
                                        .collect();
                                    fetch_response::PartitionData {
                                        partition_index: p.partition,
                                        high_watermark: end,
                                        last_stable_offset: end,
                                        log_start_offset: 0,
                                        records: Some(RecordSet::from_chunks(batches)),
                                        ..Default::default()
                                    }
                                })
                                .collect(),
                        }
                    })
                    .collect(),
                ..Default::default()
            }
            .into(),
            Request::FindCoordinator(r) => FindCoordinatorResponse {
                error_message: None,
                node_id: 0,
                host: "127.0.0.1".into(),
                port: self.port,
                coordinators: r
                    .coordinator_keys
                    .iter()
                    .map(|key| find_coordinator_response::Coordinator {
                        key: key.clone(),
                        node_id: 0,
                        host: "127.0.0.1".into(),
                        port: self.port,
                        error_code: 0,
                        error_message: None,
                    })
                    .collect(),
                ..Default::default()
            }
            .into(),
            Request::JoinGroup(r) => {
                let member_id = if r.member_id.is_empty() {
                    "member-1".to_string()
                } else {
                    r.member_id.clone()
                };
                let protocol = r.protocols.first().cloned().unwrap_or_default();
                JoinGroupResponse {
                    generation_id: 1,
                    protocol_type: Some(r.protocol_type.clone()),
                    protocol_name: Some(protocol.name.clone()),
                    leader: member_id.clone(),
                    member_id: member_id.clone(),
                    members: vec![join_group_response::JoinGroupResponseMember {
                        member_id,
                        group_instance_id: r.group_instance_id.clone(),
                        metadata: protocol.metadata,
                    }],
                    ..Default::default()
                }
                .into()
            }
            Request::SyncGroup(r) => SyncGroupResponse {
                protocol_type: r.protocol_type.clone(),
                protocol_name: r.protocol_name.clone(),
                assignment: r
                    .assignments
                    .iter()
                    .find(|a| a.member_id == r.member_id)
                    .map(|a| a.assignment.clone())
                    .unwrap_or_default(),
                ..Default::default()
            }
            .into(),
            Request::Heartbeat(_) => HeartbeatResponse::default().into(),
            Request::LeaveGroup(_) => LeaveGroupResponse::default().into(),
            Request::OffsetCommit(r) => {
                for t in &r.topics {
                    for p in &t.partitions {
                        state
                            .committed
                            .insert((t.name.clone(), p.partition_index), p.committed_offset);
                    }
                }
                OffsetCommitResponse {
                    topics: r
                        .topics
                        .iter()
                        .map(|t| offset_commit_response::OffsetCommitResponseTopic {
                            name: t.name.clone(),
                            partitions: t
                                .partitions
                                .iter()
                                .map(|p| offset_commit_response::OffsetCommitResponsePartition {
                                    partition_index: p.partition_index,
                                    error_code: 0,
                                })
                                .collect(),
                        })
                        .collect(),
                    ..Default::default()
                }
                .into()
            }
            Request::OffsetFetch(r) => OffsetFetchResponse {
                topics: r
                    .topics
                    .iter()
                    .flatten()
                    .map(|t| offset_fetch_response::OffsetFetchResponseTopic {
                        name: t.name.clone(),
                        partitions: t
                            .partition_indexes
                            .iter()
                            .map(|&p| offset_fetch_response::OffsetFetchResponsePartition {
                                partition_index: p,
                                committed_offset: *state
                                    .committed
                                    .get(&(t.name.clone(), p))
                                    .unwrap_or(&-1),
                                metadata: None,
                                ..Default::default()
                            })
                            .collect(),
                    })
                    .collect(),
                ..Default::default()
            }
            .into(),
            Request::InitProducerId(_) => InitProducerIdResponse {
                producer_id: 1000,
                producer_epoch: 0,
                ..Default::default()
            }
            .into(),
            other => default_response(other.api_key()),
        }
    }
}

fn record_count(batch: &Bytes) -> i32 {
    storage::batch::BatchHeader::parse(batch)
        .unwrap()
        .record_count
}

fn last_offset(batch: &Bytes) -> i64 {
    storage::batch::BatchHeader::parse(batch)
        .unwrap()
        .last_offset()
}

fn end_offset(log: Option<&Vec<Bytes>>) -> i64 {
    log.and_then(|l| l.last()).map_or(0, |b| last_offset(b) + 1)
}

fn default_response(api_key: net::ApiKey) -> Response {
    use net::ApiKey::*;
    match api_key {
        CreateTopics => CreateTopicsResponse::default().into(),
        DeleteTopics => DeleteTopicsResponse::default().into(),
        DescribeConfigs => DescribeConfigsResponse::default().into(),
        ListGroups => ListGroupsResponse::default().into(),
        DescribeGroups => DescribeGroupsResponse::default().into(),
        DeleteGroups => DeleteGroupsResponse::default().into(),
        SaslHandshake => SaslHandshakeResponse::default().into(),
        SaslAuthenticate => SaslAuthenticateResponse::default().into(),
        other => panic!("{other:?} is answered above"),
    }
}
