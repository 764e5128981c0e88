//! The broker's own ceiling for one partition, measured with a driver that
//! costs almost nothing per byte (so the load generator is not what is
//! measured): one Produce request carrying one 1 MiB batch of 1 KiB records
//! is encoded once and sent over and over with a fixed number in flight
//! (acks=all), then the data is read back with large sequential Fetches.
//!
//! `cargo run --release -p bench --example flood -- HOST:PORT TOPIC SECONDS IN_FLIGHT [TAIL_MIB]`
//!
//! With TAIL_MIB the fetch phase reads only the last TAIL_MIB of the log
//! ("recently written data", which the broker's cache should hold), over and
//! over for SECONDS; without it, the whole log from offset 0 (disk reads).
//!
//! Plain blocking sockets on one thread: the request bytes are fixed, so
//! the only per-request work here is the kernel copy and reading a ~60-byte
//! answer. The broker assigns offsets on append, so resending the same batch
//! is valid; idempotence is off.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use net::msg::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use net::msg::fetch_response::FetchResponse;
use net::msg::produce_request::{PartitionProduceData, ProduceRequest, TopicProduceData};
use net::msg::produce_response::ProduceResponse;
use net::records::BatchBuilder;
use net::{ApiKey, ErrorCode, RequestHeader};

const RECORD_BYTES: usize = 1024;
const RECORDS_PER_BATCH: usize = 1024;
const PRODUCE_VERSION: i16 = 7;
const FETCH_VERSION: i16 = 4;
/// Bytes asked per Fetch: large, so one round trip moves many batches.
const FETCH_BYTES_MAX: i32 = 32 << 20;
/// Read back at most this much, so a long produce phase does not make the
/// fetch phase long too.
const FETCH_TOTAL_BYTES_MAX: u64 = 8 << 30;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !(4..=5).contains(&args.len()) {
        eprintln!("usage: flood HOST:PORT TOPIC SECONDS IN_FLIGHT [TAIL_MIB]");
        std::process::exit(2);
    }
    let (addr, topic) = (&args[0], &args[1]);
    let seconds: u64 = args[2].parse().expect("SECONDS is a number");
    let in_flight: usize = args[3].parse().expect("IN_FLIGHT is a number");
    assert!(in_flight >= 1);
    let tail_mib: Option<u64> = args
        .get(4)
        .map(|a| a.parse().expect("TAIL_MIB is a number"));

    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");

    let request = produce_request(topic);
    let request_bytes = request.len() as u64;
    // One request first: it auto-creates the topic.
    stream.write_all(&request).expect("write");
    expect_produced(&read_frame(&mut stream));

    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut sent = 0u64;
    let mut answered = 0u64;
    while sent < in_flight as u64 {
        stream.write_all(&request).expect("write");
        sent += 1;
    }
    while answered < sent {
        expect_produced(&read_frame(&mut stream));
        answered += 1;
        if Instant::now() < deadline {
            stream.write_all(&request).expect("write");
            sent += 1;
        }
    }
    let produce_secs = started.elapsed().as_secs_f64();
    let produced_bytes = answered * request_bytes;
    println!(
        "produce: {answered} requests of {request_bytes} bytes (acks=all) in {produce_secs:.2} s = {:.0} MB/s",
        produced_bytes as f64 / produce_secs / 1e6
    );

    let started = Instant::now();
    let (mut fetched_bytes, mut fetches) = (0u64, 0u64);
    let end = (answered as i64 + 1) * RECORDS_PER_BATCH as i64;
    // Each request carries one batch of RECORDS_PER_BATCH offsets.
    let start = match tail_mib {
        Some(mib) => {
            (end - (mib << 20) as i64 / request_bytes as i64 * RECORDS_PER_BATCH as i64).max(0)
        }
        None => 0,
    };
    let fetch_deadline = started + Duration::from_secs(seconds);
    let mut offset = start;
    loop {
        if offset >= end {
            if tail_mib.is_none() || Instant::now() >= fetch_deadline {
                break;
            }
            offset = start;
        }
        if tail_mib.is_none() && fetched_bytes >= FETCH_TOTAL_BYTES_MAX {
            break;
        }
        stream
            .write_all(&fetch_request(topic, offset))
            .expect("write");
        let (bytes, next) = fetched(&read_frame(&mut stream));
        assert!(next > offset, "fetch at {offset} made no progress");
        offset = next;
        fetched_bytes += bytes;
        fetches += 1;
    }
    let fetch_secs = started.elapsed().as_secs_f64();
    println!(
        "fetch: {fetched_bytes} bytes in {fetches} fetches in {fetch_secs:.2} s = {:.0} MB/s",
        fetched_bytes as f64 / fetch_secs / 1e6
    );
}

fn produce_request(topic: &str) -> Vec<u8> {
    let value = vec![b'x'; RECORD_BYTES];
    let mut batch = BatchBuilder::new(0);
    for _ in 0..RECORDS_PER_BATCH {
        batch.push(0, None, Some(&value), &[]);
    }
    let body = ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: topic.to_string(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(batch.build()),
            }],
        }],
        ..Default::default()
    };
    let header = RequestHeader::new(ApiKey::Produce, PRODUCE_VERSION, 1);
    net::encode_request(&header, &body).to_bytes().to_vec()
}

fn fetch_request(topic: &str, offset: i64) -> Vec<u8> {
    let body = FetchRequest {
        max_wait_ms: 0,
        min_bytes: 1,
        max_bytes: FETCH_BYTES_MAX,
        topics: vec![FetchTopic {
            topic: topic.to_string(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes: FETCH_BYTES_MAX,
                ..Default::default()
            }],
        }],
        ..Default::default()
    };
    let header = RequestHeader::new(ApiKey::Fetch, FETCH_VERSION, 2);
    net::encode_request(&header, &body).to_bytes().to_vec()
}

/// One response frame, without its size prefix.
fn read_frame(stream: &mut TcpStream) -> Bytes {
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).expect("read size");
    let size = i32::from_be_bytes(size);
    assert!(size > 0, "bad response size {size}");
    let mut frame = vec![0u8; size as usize];
    stream.read_exact(&mut frame).expect("read frame");
    Bytes::from(frame)
}

fn expect_produced(frame: &Bytes) {
    let (_, response) = net::decode_response::<ProduceResponse>(frame.clone(), PRODUCE_VERSION)
        .expect("decode produce response");
    let code = response.responses[0].partition_responses[0].error_code;
    assert_eq!(
        ErrorCode::from_code(code),
        ErrorCode::None,
        "produce failed"
    );
}

/// Record bytes in a Fetch response and the offset after its last batch.
fn fetched(frame: &Bytes) -> (u64, i64) {
    let (_, response) = net::decode_response::<FetchResponse>(frame.clone(), FETCH_VERSION)
        .expect("decode fetch response");
    let partition = &response.responses[0].partitions[0];
    assert_eq!(
        ErrorCode::from_code(partition.error_code),
        ErrorCode::None,
        "fetch failed"
    );
    let records = partition
        .records
        .clone()
        .unwrap_or_default()
        .to_contiguous();
    let mut next = -1;
    for batch in net::records::batches(&records) {
        let batch = batch.expect("whole batches");
        next = batch.header.last_offset() + 1;
    }
    (records.len() as u64, next)
}
