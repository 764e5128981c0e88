//! Differential tests against kafka-protocol, an independent implementation
//! of the same schemas: what Sluice encodes, kafka-protocol must decode and
//! re-encode to the same bytes, and Sluice must decode kafka-protocol's
//! encoding back to the same message. Full frames are checked too, so header
//! versions (including ApiVersions' fixed response header v0) agree.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages as kp;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};
use proptest::prelude::*;

use super::roundtrip::for_api;
use super::{decode_body, encode_body};
use crate::api::{ApiRequest, ApiResponse};
use crate::codec::Wire;
use crate::frame::{encode_request, encode_response};
use crate::msg::*;
use crate::testkit::{Gen, Sample};
use crate::{ApiKey, RequestHeader};

fn through_kafka_protocol<K: Decodable + Encodable>(
    ours: Bytes,
    version: i16,
    what: &str,
) -> Bytes {
    let mut input = ours.clone();
    let theirs = K::decode(&mut input, version)
        .unwrap_or_else(|e| panic!("kafka-protocol cannot decode {what}: {e}"));
    assert!(input.is_empty(), "kafka-protocol left bytes of {what}");
    let mut out = BytesMut::new();
    theirs
        .encode(&mut out, version)
        .unwrap_or_else(|e| panic!("kafka-protocol cannot re-encode {what}: {e}"));
    out.freeze()
}

fn differential<T, K>(api: ApiKey, version: i16, seed: u64)
where
    T: Wire + Sample + PartialEq + std::fmt::Debug,
    K: Decodable + Encodable,
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
    KQ: Decodable + Encodable + HeaderVersion,
    KR: Decodable + Encodable + HeaderVersion,
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
    KQ::decode(&mut buf, version).unwrap();
    assert!(buf.is_empty());

    let frame = encode_response(seed as i32, version, &R::sample(&mut g)).to_bytes();
    let mut buf = frame.slice(4..);
    let theirs = kp::ResponseHeader::decode(&mut buf, KR::header_version(version)).unwrap();
    assert_eq!(theirs.correlation_id, seed as i32);
    KR::decode(&mut buf, version).unwrap();
    assert!(buf.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn kafka_protocol_agrees_on_every_message_and_version(seed in any::<u64>()) {
        super::for_every_version(|api, version| {
            macro_rules! check {
                ($req:ident, $resp:ident) => {{
                    differential::<$req, kp::$req>(api, version, seed);
                    differential::<$resp, kp::$resp>(api, version, seed);
                    differential_frames::<$req, $resp, kp::$req, kp::$resp>(version, seed);
                }};
            }
            for_api!(api, version, check)
        });
    }
}
