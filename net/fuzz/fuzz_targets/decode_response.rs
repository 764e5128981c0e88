//! Fuzzes response decoding (the client side used by the load generator and
//! the admin tool): the first two bytes pick the API and version.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [which, version, frame @ ..] = data else {
        return;
    };
    let table = net::SUPPORTED_VERSIONS;
    let range = table[*which as usize % table.len()];
    let span = (range.max_version - range.min_version + 1) as u8;
    let version = range.min_version + i16::from(version % span);
    let frame = bytes::Bytes::copy_from_slice(frame);
    if let Ok((header, response)) = net::decode_any_response(frame, range.api_key, version) {
        // Whatever decodes re-encodes and decodes to the same response (an
        // ApiVersions error response is read in the v0 fallback format).
        let api_version = match &response {
            net::Response::ApiVersions(r) if r.error_code == 35 => 0,
            _ => version,
        };
        let again = net::encode_any_response(header.correlation_id, api_version, &response);
        let (_, back) =
            net::decode_any_response(again.to_bytes().slice(4..), range.api_key, api_version)
                .expect("re-encoded response decodes");
        assert_eq!(back, response);
    }
});
