//! Fuzzes request decoding: frame splitting, headers and every message body.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // As a whole request frame body (what decode_request sees)...
    if let Ok((header, request)) = net::decode_request(bytes::Bytes::copy_from_slice(data)) {
        // ...whatever decodes must re-encode to a frame that decodes to the
        // same request. (Not to the same bytes: unknown tagged fields are
        // dropped and non-canonical varints and booleans normalised.)
        let again = net::encode_request_enum(&header, &request).to_bytes();
        let (header2, request2) =
            net::decode_request(again.slice(4..)).expect("re-encoded request decodes");
        assert_eq!((header2, request2), (header, request));
    }
    // The broker's lenient variant accepts a superset and must agree on it.
    if let Ok((header, request, _ignored)) =
        net::decode_request_lenient(bytes::Bytes::copy_from_slice(data))
    {
        let again = net::encode_request_enum(&header, &request).to_bytes();
        let (header2, request2) =
            net::decode_request(again.slice(4..)).expect("re-encoded request decodes");
        assert_eq!((header2, request2), (header, request));
    }
    // ...and as a byte stream of size-prefixed frames.
    let frames = net::FrameDecoder::new(1 << 20);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = frames.decode(&mut buf) {
        let _ = net::decode_request(frame);
    }
});
