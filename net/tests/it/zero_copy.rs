//! Produce decoding does work per batch, not per byte: a frame with 1 MiB of
//! records decodes with a few kilobytes of allocation and its batches are
//! slices of the frame.

use bytes::Bytes;
use net::msg::{produce_request, ProduceRequest};
use net::records::{batches, BatchBuilder};
use net::{decode_request, encode_request, ApiKey, Request, RequestHeader};

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
