//! Codec throughput against kafka-protocol on the same frames, same run.
//!
//! Produce decode: a Produce request carrying 1 MiB of 1 KiB records (8
//! partitions, one 128-record batch each), decoded to a request whose batches
//! are then split and their headers parsed (what the broker does before
//! handing batches to the log). Fetch encode: a response carrying the same
//! 1 MiB of batches, encoded for a vectored write.
//!
//! Run: `cargo bench -p net --bench codec` (results: docs/benchmarks.md).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages as kp;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use net::msg::{fetch_response, produce_request, FetchResponse, ProduceRequest};
use net::records::{self, BatchBuilder};
use net::{decode_request, encode_request, encode_response, ApiKey, RequestHeader};

const PARTITIONS: usize = 8;
const RECORDS_PER_BATCH: usize = 128;
const RECORD_VALUE_BYTES: usize = 1024;
const RUNS: usize = 7;
const RUN_TIME: Duration = Duration::from_millis(400);

fn batch(partition: usize) -> Bytes {
    let mut b = BatchBuilder::new(1_700_000_000_000);
    let value = vec![partition as u8; RECORD_VALUE_BYTES];
    for i in 0..RECORDS_PER_BATCH {
        b.push(1_700_000_000_000 + i as i64, None, Some(&value), &[]);
    }
    b.build()
}

fn produce_frame(version: i16, batches: &[Bytes]) -> Bytes {
    let request = ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![produce_request::TopicProduceData {
            name: "bench".into(),
            partition_data: batches
                .iter()
                .enumerate()
                .map(|(i, b)| produce_request::PartitionProduceData {
                    index: i as i32,
                    records: Some(b.clone()),
                })
                .collect(),
        }],
        ..Default::default()
    };
    let mut header = RequestHeader::new(ApiKey::Produce, version, 1);
    header.client_id = Some("bench".into());
    encode_request(&header, &request).to_bytes().slice(4..)
}

fn fetch_response(batches: &[Bytes]) -> FetchResponse {
    FetchResponse {
        responses: vec![fetch_response::FetchableTopicResponse {
            topic: "bench".into(),
            partitions: batches
                .iter()
                .enumerate()
                .map(|(i, b)| fetch_response::PartitionData {
                    partition_index: i as i32,
                    high_watermark: 1_000,
                    last_stable_offset: 1_000,
                    log_start_offset: 0,
                    records: Some(b.clone().into()),
                    ..Default::default()
                })
                .collect(),
        }],
        ..Default::default()
    }
}

fn kp_fetch_response(batches: &[Bytes]) -> kp::FetchResponse {
    kp::FetchResponse::default().with_responses(vec![
        kp::fetch_response::FetchableTopicResponse::default()
            .with_topic(kp::TopicName(StrBytes::from_static_str("bench")))
            .with_partitions(
                batches
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        kp::fetch_response::PartitionData::default()
                            .with_partition_index(i as i32)
                            .with_high_watermark(1_000)
                            .with_last_stable_offset(1_000)
                            .with_log_start_offset(0)
                            .with_records(Some(b.clone()))
                    })
                    .collect(),
            ),
    ])
}

/// Median over `RUNS` runs of bytes per second processed by `f`, which
/// handles `bytes_per_call` bytes per call.
fn measure(bytes_per_call: usize, mut f: impl FnMut()) -> f64 {
    let mut rates = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let mut calls = 0u64;
        while start.elapsed() < RUN_TIME {
            for _ in 0..16 {
                f();
            }
            calls += 16;
        }
        let secs = start.elapsed().as_secs_f64();
        rates.push(calls as f64 * bytes_per_call as f64 / secs);
    }
    rates.sort_by(f64::total_cmp);
    rates[RUNS / 2]
}

fn report(name: &str, ours: f64, theirs: f64) {
    println!(
        "{name:<44} sluice {:>9.2} GB/s   kafka-protocol {:>9.2} GB/s   ratio {:>6.1}x",
        ours / 1e9,
        theirs / 1e9,
        ours / theirs
    );
}

fn main() {
    let batches: Vec<Bytes> = (0..PARTITIONS).map(batch).collect();
    let data_bytes: usize = batches.iter().map(Bytes::len).sum();
    println!(
        "{PARTITIONS} partitions x {RECORDS_PER_BATCH} records x {RECORD_VALUE_BYTES} B = {data_bytes} B of batches; median of {RUNS} runs of {RUN_TIME:?}"
    );

    for version in [7, 9] {
        let frame = produce_frame(version, &batches);
        let decode_only = measure(frame.len(), || {
            black_box(decode_request(black_box(frame.clone())).unwrap());
        });
        let ours = measure(frame.len(), || {
            let (_, request) = decode_request(black_box(frame.clone())).unwrap();
            let net::Request::Produce(r) = request else {
                unreachable!()
            };
            for t in &r.topic_data {
                for p in &t.partition_data {
                    for b in records::batches(p.records.as_ref().unwrap()) {
                        black_box(b.unwrap().header);
                    }
                }
            }
        });
        let theirs = measure(frame.len(), || {
            let mut buf = black_box(frame.clone());
            let header =
                kp::RequestHeader::decode(&mut buf, if version >= 9 { 2 } else { 1 }).unwrap();
            let r = kp::ProduceRequest::decode(&mut buf, header.request_api_version).unwrap();
            black_box(r);
        });
        report(&format!("Produce v{version} decode"), decode_only, theirs);
        report(
            &format!("Produce v{version} decode + batch split"),
            ours,
            theirs,
        );
    }

    // CRC validation of the same batches: the per-byte cost the broker pays
    // on Produce, for scale.
    let crc = measure(data_bytes, || {
        for b in &batches {
            storage::batch::verify_crc(black_box(b)).unwrap();
        }
    });
    println!(
        "{:<44} sluice {:>9.2} GB/s",
        "batch CRC32C verification",
        crc / 1e9
    );

    for version in [11, 12] {
        let response = fetch_response(&batches);
        let kp_response = kp_fetch_response(&batches);
        let frame_len = encode_response(1, version, &response).len();
        let ours = measure(frame_len, || {
            let frame = encode_response(1, version, black_box(&response));
            black_box(frame.chunks().len());
        });
        let theirs = measure(frame_len, || {
            let mut buf = BytesMut::new();
            kp::ResponseHeader::default()
                .with_correlation_id(1)
                .encode(&mut buf, if version >= 12 { 1 } else { 0 })
                .unwrap();
            kp_response.encode(&mut buf, version).unwrap();
            black_box(buf.len());
        });
        report(&format!("Fetch v{version} response encode"), ours, theirs);
    }
}
