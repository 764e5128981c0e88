//! Hostile frames: each must come back as a typed error, never a panic or an
//! abort, and decoding must allocate no more than a small multiple of the
//! frame (the bound in `net::limits`), whatever the frame claims.

use bytes::{BufMut, Bytes, BytesMut};
use net::limits::{DECODE_MEMORY_FLOOR_BYTES, DECODE_MEMORY_PER_FRAME_BYTE};
use net::{decode_request, ApiKey, DecodeError, RequestError, SUPPORTED_VERSIONS};
use proptest::prelude::*;

use crate::alloc_counter::allocated_by;

/// What decoding a frame of `len` bytes may allocate: the codec's budget for
/// decoded structures, plus the strings it copies (at most the frame), plus
/// slack for the error value and vector growth.
fn allocation_bound(len: usize) -> usize {
    DECODE_MEMORY_FLOOR_BYTES + len * (2 * DECODE_MEMORY_PER_FRAME_BYTE + 1) + 4096
}

/// A request header v1 (client id null) for `api_key` v`version`.
fn header(api_key: ApiKey, version: i16) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_i16(api_key.code());
    b.put_i16(version);
    b.put_i32(7);
    b.put_i16(-1);
    b
}

/// A request header v2: v1 plus an empty tagged-field section.
fn flexible_header(api_key: ApiKey, version: i16) -> BytesMut {
    let mut b = header(api_key, version);
    b.put_u8(0);
    b
}

fn decode_hostile(frame: BytesMut) -> DecodeError {
    let frame = frame.freeze();
    let len = frame.len();
    let (result, allocated) = allocated_by(|| decode_request(frame));
    assert!(
        allocated <= allocation_bound(len),
        "{allocated} bytes allocated for a {len}-byte frame"
    );
    match result {
        Err(RequestError::Malformed {
            error,
            correlation_id: 7,
            ..
        }) => error,
        other => panic!("expected a malformed-request error, got {other:?}"),
    }
}

#[test]
fn produce_v3_claiming_i32_max_topics() {
    // The 12-byte body: null transactional id, acks, timeout, topic count.
    let mut f = header(ApiKey::Produce, 3);
    f.put_i16(-1);
    f.put_i16(1);
    f.put_i32(1000);
    f.put_i32(i32::MAX);
    assert_eq!(f.len() - 10, 12);
    let err = decode_hostile(f);
    assert_eq!(
        err,
        DecodeError::CountPastEnd {
            count: i32::MAX as u64,
            left: 0
        }
    );
}

#[test]
fn negative_lengths() {
    // a string length of -5
    let mut f = header(ApiKey::Produce, 3);
    f.put_i16(-5);
    assert_eq!(decode_hostile(f), DecodeError::NegativeLength(-5));
    // an array count of -2
    let mut f = header(ApiKey::Produce, 3);
    f.put_i16(-1);
    f.put_i16(1);
    f.put_i32(1000);
    f.put_i32(-2);
    assert_eq!(decode_hostile(f), DecodeError::NegativeLength(-2));
    // a null array where none is allowed
    let mut f = header(ApiKey::Produce, 3);
    f.put_i16(-1);
    f.put_i16(1);
    f.put_i32(1000);
    f.put_i32(-1);
    assert_eq!(decode_hostile(f), DecodeError::UnexpectedNull);
    // records bytes of length -7
    let mut f = produce_v3_up_to_records();
    f.put_i32(-7);
    assert_eq!(decode_hostile(f), DecodeError::NegativeLength(-7));
    // a negative client id length in the header
    let mut f = BytesMut::new();
    f.put_i16(ApiKey::Metadata.code());
    f.put_i16(4);
    f.put_i32(7);
    f.put_i16(-100);
    assert_eq!(decode_hostile(f), DecodeError::NegativeLength(-100));
}

/// A Produce v3 frame up to (not including) the records length of its one
/// partition.
fn produce_v3_up_to_records() -> BytesMut {
    let mut f = header(ApiKey::Produce, 3);
    f.put_i16(-1);
    f.put_i16(1);
    f.put_i32(1000);
    f.put_i32(1); // topics
    f.put_i16(1);
    f.put_u8(b't');
    f.put_i32(1); // partitions
    f.put_i32(0); // partition index
    f
}

#[test]
fn lengths_past_the_frame_end() {
    // records claiming 1 GiB with 3 bytes present
    let mut f = produce_v3_up_to_records();
    f.put_i32(1 << 30);
    f.put_slice(b"abc");
    assert_eq!(
        decode_hostile(f),
        DecodeError::CountPastEnd {
            count: 1 << 30,
            left: 3
        }
    );
    // a topic name of 30000 bytes with 1 present
    let mut f = header(ApiKey::Metadata, 4);
    f.put_i32(1);
    f.put_i16(30_000);
    f.put_u8(b'x');
    assert_eq!(
        decode_hostile(f),
        DecodeError::CountPastEnd {
            count: 30_000,
            left: 1
        }
    );
    // a compact (flexible) array claiming u32::MAX - 1 elements
    let mut f = flexible_header(ApiKey::Metadata, 12);
    f.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(matches!(
        decode_hostile(f),
        DecodeError::CountPastEnd { .. }
    ));
}

#[test]
fn deep_nesting_with_lying_counts_at_every_level() {
    // OffsetCommit v2: topics -> partitions, each level claiming far more
    // elements than the bytes left, after one honest element above it.
    let mut f = header(ApiKey::OffsetCommit, 2);
    f.put_i16(1);
    f.put_u8(b'g'); // group id
    f.put_i32(1); // generation
    f.put_i16(1);
    f.put_u8(b'm'); // member id
    f.put_i64(-1); // retention
    f.put_i32(1); // one topic
    f.put_i16(1);
    f.put_u8(b't');
    f.put_i32(0x0fff_ffff); // partitions
    f.put_bytes(0, 64);
    assert!(matches!(
        decode_hostile(f),
        DecodeError::CountPastEnd { .. }
    ));
}

#[test]
fn many_tiny_elements_stay_within_the_memory_budget() {
    // Metadata v9 (flexible): each topic is two bytes on the wire (null
    // name, empty tags) but a 40-byte struct in memory. 1 Mi of them must
    // either decode within the per-frame budget or be refused by it.
    let n: u32 = 1 << 20;
    let mut f = flexible_header(ApiKey::Metadata, 9);
    let mut count = n + 1;
    while count >= 0x80 {
        f.put_u8((count as u8) | 0x80);
        count >>= 7;
    }
    f.put_u8(count as u8);
    for _ in 0..n {
        f.put_u8(0); // null name
        f.put_u8(0); // no tagged fields
    }
    f.put_u8(1); // allow auto topic creation
    f.put_u8(0);
    f.put_u8(0);
    f.put_u8(0); // request tagged fields
    let frame = f.freeze();
    let len = frame.len();
    let (result, allocated) = allocated_by(|| decode_request(frame));
    assert!(allocated <= allocation_bound(len), "{allocated} for {len}");
    let (_, request) = result.unwrap();
    let net::Request::Metadata(r) = request else {
        panic!()
    };
    assert_eq!(r.topics.unwrap().len(), n as usize);
}

#[test]
fn truncated_tagged_fields() {
    // header v2 whose tagged section claims 3 fields and ends
    let mut f = header(ApiKey::Metadata, 12);
    f.put_u8(3);
    assert!(matches!(
        decode_hostile(f),
        DecodeError::CountPastEnd { .. }
    ));
    // one field whose size runs past the end
    let mut f = header(ApiKey::Metadata, 12);
    f.put_slice(&[1, 0, 50, 1, 2]);
    assert!(matches!(decode_hostile(f), DecodeError::Truncated { .. }));
    // a body tagged section cut off after the tag
    let mut f = flexible_header(ApiKey::ApiVersions, 3);
    f.put_slice(&[2, b'a', 2, b'b', 1, 5]);
    assert!(matches!(
        decode_hostile(f),
        DecodeError::CountPastEnd { count: 1, left: 1 }
    ));
    // a known tag (Fetch v12 cluster id) whose value overruns its size
    let mut f = flexible_header(ApiKey::Fetch, 12);
    f.put_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    f.put_slice(&[1, 1, 0, 1, 1, 1]); // empty topics, forgotten, rack id
    f.put_slice(&[1, 0, 2, 9, b'x']); // cluster id: size 2, string of 8
    assert!(matches!(
        decode_hostile(f),
        DecodeError::CountPastEnd { .. }
    ));
}

#[test]
fn overlong_varints_and_trailing_bytes() {
    let mut f = flexible_header(ApiKey::Metadata, 12);
    f.put_slice(&[0xff; 6]);
    assert_eq!(decode_hostile(f), DecodeError::VarintTooLong);
    let mut f = header(ApiKey::Heartbeat, 0);
    f.put_i16(1);
    f.put_u8(b'g');
    f.put_i32(1);
    f.put_i16(1);
    f.put_u8(b'm');
    f.put_u8(0xee);
    assert_eq!(decode_hostile(f), DecodeError::TrailingBytes(1));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Random bodies behind a valid header of every supported API and
    /// version: never a panic, always within the allocation bound.
    #[test]
    fn random_bodies_never_panic(
        which in 0usize..1000,
        flexible_header_bytes in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let range = SUPPORTED_VERSIONS[which % SUPPORTED_VERSIONS.len()];
        let span = (range.max_version - range.min_version + 1) as usize;
        let version = range.min_version + (which / SUPPORTED_VERSIONS.len() % span) as i16;
        let mut f = header(range.api_key, version);
        if flexible_header_bytes {
            f.put_u8(0);
        }
        f.put_slice(&body);
        let frame = f.freeze();
        let len = frame.len();
        let (_, allocated) = allocated_by(|| decode_request(frame));
        prop_assert!(allocated <= allocation_bound(len));
    }

    /// Random bytes as a records field: splitting, validating and iterating
    /// never panic.
    #[test]
    fn random_records_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let records = Bytes::from(body);
        for batch in net::records::batches(&records).flatten() {
            let _ = net::records::validate_produced(&batch);
            if let Ok(iter) = batch.records() {
                for _ in iter {}
            }
        }
    }
}
