//! Produce decoding does work per batch, not per byte: a frame with 1 MiB of
//! records decodes with a few kilobytes of allocation and its batches are
//! slices of the frame. Fetch encoding hands each batch storage returned to
//! the writer as its own chunk, without copying it.

use bytes::Bytes;
use net::msg::{fetch_response, produce_request, FetchResponse, ProduceRequest};
use net::records::{batches, BatchBuilder};
use net::{
    decode_request, decode_response, encode_request, encode_response, ApiKey, RecordSet, Request,
    RequestHeader,
};

use crate::alloc_counter::allocated_by;

fn big_produce_frame(version: i16) -> Bytes {
    let value = vec![0x5a; 1024];
    let partition_data = (0..8)
        .map(|index| {
            let mut b = BatchBuilder::new(0);
            for i in 0..128 {
                b.push(i, None, Some(&value), &[]);
            }
            produce_request::PartitionProduceData {
                index,
                records: Some(b.build()),
            }
        })
        .collect();
    let request = ProduceRequest {
        acks: 1,
        timeout_ms: 1000,
        topic_data: vec![produce_request::TopicProduceData {
            name: "t".into(),
            partition_data,
        }],
        ..Default::default()
    };
    let header = RequestHeader::new(ApiKey::Produce, version, 1);
    encode_request(&header, &request).to_bytes().slice(4..)
}

#[test]
fn produce_decode_allocates_per_batch_not_per_byte() {
    for version in [3, 8, 9, 11] {
        let frame = big_produce_frame(version);
        assert!(frame.len() > 1 << 20);
        let ((header, request), allocated) =
            allocated_by(|| decode_request(frame.clone()).unwrap());
        assert_eq!(header.api_version, version);
        assert!(
            allocated < 8 * 1024,
            "v{version}: {allocated} bytes allocated"
        );
        let Request::Produce(r) = request else {
            panic!()
        };
        let range = frame.as_ptr() as usize..frame.as_ptr() as usize + frame.len();
        let (batch_count, allocated) = allocated_by(|| {
            let mut n = 0;
            for p in &r.topic_data[0].partition_data {
                for b in batches(p.records.as_ref().unwrap()) {
                    let b = b.unwrap();
                    assert!(range.contains(&(b.bytes.as_ptr() as usize)));
                    n += 1;
                }
            }
            n
        });
        assert_eq!(allocated, 0, "splitting batches allocates nothing");
        assert_eq!(batch_count, 8);
    }
}

#[test]
fn fetch_encode_writes_each_batch_as_its_own_chunk() {
    let value = vec![0x5a; 1024];
    let batches: Vec<Bytes> = (0..8)
        .map(|base| {
            let mut b = BatchBuilder::new(base * 128);
            for i in 0..128 {
                b.push(i, None, Some(&value), &[]);
            }
            b.build()
        })
        .collect();
    let total: usize = batches.iter().map(Bytes::len).sum();
    let response = FetchResponse {
        responses: vec![fetch_response::FetchableTopicResponse {
            topic: "t".into(),
            partitions: vec![fetch_response::PartitionData {
                records: Some(RecordSet::from_chunks(batches.clone())),
                ..Default::default()
            }],
        }],
        ..Default::default()
    };
    for version in [4, 11, 12] {
        let (frame, allocated) = allocated_by(|| encode_response(7, version, &response));
        assert!(
            allocated < 8 * 1024,
            "v{version}: {allocated} bytes allocated for {total} bytes of batches"
        );
        let chunk_starts: Vec<*const u8> = frame.chunks().iter().map(|c| c.as_ptr()).collect();
        for b in &batches {
            assert!(
                chunk_starts.contains(&b.as_ptr()),
                "v{version}: a batch was copied"
            );
        }
        let (_, decoded) = decode_response::<FetchResponse>(frame.to_bytes().slice(4..), version)
            .expect("decodes");
        let records = decoded.responses[0].partitions[0].records.as_ref().unwrap();
        assert_eq!(records.len(), total);
        assert_eq!(records.chunks().len(), 1, "decoding slices one chunk");
        assert_eq!(records.to_contiguous(), Bytes::from(batches.concat()));
    }
}
