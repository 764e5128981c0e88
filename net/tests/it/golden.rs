//! Request frames captured from kcat (librdkafka 2.0.2), kafka-python 3.0.12
//! and confluent-kafka 2.16.1 (librdkafka 2.16) by `tests/data/capture.sh`.
//! Each must decode to exactly what the client sent and re-encode to the
//! identical bytes.

use std::path::PathBuf;

use bytes::Bytes;
use net::records::{batches, validate_produced};
use net::{decode_request, encode_request_enum, ApiKey, Request, RequestHeader};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn load(name: &str) -> Bytes {
    let path = data_dir().join(name);
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Decodes a golden frame and checks the re-encoding is byte-identical.
fn decode_exact(name: &str) -> (RequestHeader, Request) {
    let frame = load(name);
    let (header, request) = decode_request(frame.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again = encode_request_enum(&header, &request).to_bytes();
    assert_eq!(&again[4..], &frame[..], "{name} re-encodes differently");
    (header, request)
}

#[test]
fn every_captured_frame_decodes_and_reencodes_exactly() {
    let mut names: Vec<String> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".bin"))
        .collect();
    names.sort();
    assert!(names.len() >= 30, "golden frames missing: {names:?}");
    for name in &names {
        let (header, request) = decode_exact(name);
        // the file name says which API and version the client sent
        let expected = format!("-{}-v{}.bin", header.api_key.name(), header.api_version);
        assert!(name.ends_with(&expected), "{name} holds {expected}");
        assert_eq!(request.api_key(), header.api_key);
    }
}

#[test]
fn api_versions_from_each_client() {
    let cases = [
        ("kcat-ApiVersions-v3.bin", "rdkafka", "librdkafka", "2.0.2"),
        (
            "confluent-kafka-ApiVersions-v3.bin",
            "rdkafka",
            "confluent-kafka-python",
            "2.16.1-rdkafka-2.16.0",
        ),
        (
            "kafka-python-ApiVersions-v4.bin",
            "kafka-python-producer-1",
            "kafka-python",
            "3.0.12",
        ),
    ];
    for (file, client_id, software, version) in cases {
        let (header, request) = decode_exact(file);
        assert_eq!(header.client_id.as_deref(), Some(client_id));
        assert_eq!(header.correlation_id, 1);
        let Request::ApiVersions(r) = request else {
            panic!("{file}")
        };
        assert_eq!(r.client_software_name, software);
        assert_eq!(r.client_software_version, version);
    }
}

#[test]
fn metadata_names_the_topic() {
    for (file, topics) in [
        ("kcat-Metadata-v4.bin", vec!["golden"]),
        ("confluent-kafka-Metadata-v12.bin", vec!["golden"]),
        ("kafka-python-Metadata-v12.bin", vec![]),
    ] {
        let (_, request) = decode_exact(file);
        let Request::Metadata(r) = request else {
            panic!("{file}")
        };
        let names: Vec<_> = r
            .topics
            .unwrap()
            .into_iter()
            .map(|t| t.name.unwrap())
            .collect();
        assert_eq!(names, topics, "{file}");
        assert!(r.allow_auto_topic_creation);
    }
}

#[test]
fn produce_carries_one_valid_batch_with_the_record() {
    let cases = [
        (
            "kcat-Produce-v7.bin",
            b"kcat-key".as_slice(),
            b"hello from kcat".as_slice(),
            0,
            -1,
        ),
        (
            "kafka-python-Produce-v9.bin",
            b"python-key",
            b"hello from kafka-python",
            1,
            1000,
        ),
        (
            "confluent-kafka-Produce-v10.bin",
            b"confluent-key",
            b"hello from confluent-kafka",
            0,
            1000,
        ),
    ];
    for (file, key, value, header_count, producer_id) in cases {
        decode_exact(file);
        let frame = load(file);
        let (_, request) = decode_request(frame.clone()).unwrap();
        let Request::Produce(r) = request else {
            panic!("{file}")
        };
        assert_eq!(
            (r.acks, r.timeout_ms, r.transactional_id),
            (-1, 30_000, None)
        );
        assert_eq!(r.topic_data.len(), 1);
        assert_eq!(r.topic_data[0].name, "golden");
        let partition = &r.topic_data[0].partition_data[0];
        assert_eq!(partition.index, 0);
        let records = partition.records.clone().unwrap();
        // zero copy: the records are a slice of the frame
        let start = records.as_ptr() as usize - frame.as_ptr() as usize;
        assert_eq!(&frame[start..start + records.len()], &records[..]);
        let all: Vec<_> = batches(&records).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 1, "{file}");
        validate_produced(&all[0]).unwrap();
        assert_eq!(all[0].header.producer_id, producer_id, "{file}");
        let recs: Vec<_> = all[0].records().unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].key.as_deref(), Some(key));
        assert_eq!(recs[0].value.as_deref(), Some(value));
        assert_eq!(recs[0].headers.len(), header_count, "{file}");
    }
}

#[test]
fn fetch_asks_for_partition_zero_from_the_start() {
    for (file, isolation_level) in [
        ("kcat-Fetch-v11.bin", 1),
        ("confluent-kafka-Fetch-v12.bin", 1),
        ("kafka-python-Fetch-v12.bin", 0),
    ] {
        let (header, request) = decode_exact(file);
        let Request::Fetch(r) = request else {
            panic!("{file}")
        };
        assert_eq!(header.api_key, ApiKey::Fetch);
        assert_eq!((r.replica_id, r.max_wait_ms, r.min_bytes), (-1, 500, 1));
        assert_eq!(r.max_bytes, 52_428_800);
        assert_eq!(r.isolation_level, isolation_level, "{file}");
        assert_eq!(r.topics.len(), 1);
        assert_eq!(r.topics[0].topic, "golden");
        let p = &r.topics[0].partitions[0];
        assert_eq!(
            (p.partition, p.fetch_offset, p.partition_max_bytes),
            (0, 0, 1_048_576)
        );
    }
}

#[test]
fn join_group_offers_consumer_protocols() {
    for file in [
        "kcat-JoinGroup-v5.bin",
        "confluent-kafka-JoinGroup-v5.bin",
        "kafka-python-JoinGroup-v7.bin",
    ] {
        let (_, request) = decode_exact(file);
        let Request::JoinGroup(r) = request else {
            panic!("{file}")
        };
        assert_eq!(r.group_id, "golden-group");
        assert_eq!(r.protocol_type, "consumer");
        assert_eq!(
            (r.session_timeout_ms, r.rebalance_timeout_ms),
            (45_000, 300_000)
        );
        assert_eq!(r.member_id, "");
        let names: Vec<_> = r.protocols.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["range", "roundrobin"], "{file}");
        // the subscription metadata names the topic
        assert!(r.protocols[0].metadata.windows(6).any(|w| w == b"golden"));
    }
}

/// librdkafka 2.16's unfiltered Metadata v12 request (AdminClient
/// `list_topics()`) carries 3 bytes after a complete body. Kafka's broker
/// reads the body and ignores the rest; `decode_request` refuses them and
/// `decode_request_lenient` (what the broker uses) reports and skips them.
#[test]
fn trailing_bytes_from_librdkafka_metadata_v12() {
    let frame = load("confluent-kafka-admin-Metadata-v12.trailing");
    assert!(matches!(
        decode_request(frame.clone()),
        Err(net::RequestError::Malformed {
            error: net::DecodeError::TrailingBytes(3),
            ..
        })
    ));
    let (header, request, ignored) = net::decode_request_lenient(frame).unwrap();
    assert_eq!(ignored, 3);
    assert_eq!((header.api_key, header.api_version), (ApiKey::Metadata, 12));
    assert_eq!(header.client_id.as_deref(), Some("rdkafka"));
    let Request::Metadata(r) = request else {
        panic!()
    };
    assert_eq!(r.topics, None, "null topics: all of them");
}
