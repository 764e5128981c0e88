//! Whole-codec property tests: round trips of every message in every
//! supported version, and differential tests against the kafka-protocol
//! crate as an independent implementation.

mod differential;
mod legacy_versions;
mod roundtrip;

use bytes::Bytes;

use crate::codec::{Decoder, Encoder, Layout, Wire};

/// Encodes just a body in `layout`, as one buffer.
pub(crate) fn encode_body<T: Wire>(body: &T, layout: Layout) -> Bytes {
    let mut e = Encoder::new();
    body.encode(&mut e, layout);
    let len = e.len();
    let bytes = Bytes::from(e.into_chunks().concat());
    assert_eq!(bytes.len(), len);
    bytes
}

/// Decodes a whole body, requiring every byte to be consumed.
pub(crate) fn decode_body<T: Wire>(bytes: Bytes, layout: Layout) -> T {
    let mut d = Decoder::new(bytes);
    let body = T::decode(&mut d, layout).expect("decodes");
    d.finish().expect("no trailing bytes");
    body
}

/// Runs `check(api_key, version)` for every supported version of every API.
pub(crate) fn for_every_version(mut check: impl FnMut(crate::ApiKey, i16)) {
    for range in crate::SUPPORTED_VERSIONS {
        for version in range.min_version..=range.max_version {
            check(range.api_key, version);
        }
    }
}
