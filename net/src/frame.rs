//! Size-prefixed frames, request and response headers, and the entry points
//! that turn a frame into a typed message and back.
//!
//! Broker side: [`FrameDecoder::decode`] splits frames off the receive buffer,
//! [`decode_request`] turns one into a [`RequestHeader`] and [`Request`], and
//! [`encode_response`] produces an [`EncodedFrame`] whose large byte fields are
//! separate chunks. Client side: [`encode_request`] and [`decode_response`].

use bytes::{Buf, Bytes, BytesMut};

use crate::api::{ApiKey, ApiRequest, ApiResponse, Request, Response};
use crate::codec::{DecodeError, Decoder, Encoder, Layout, Wire};
use crate::error::ErrorCode;
use crate::limits;
use crate::msg::ApiVersionsResponse;

/// Bytes of the size prefix in front of every frame.
pub const SIZE_PREFIX_BYTES: usize = 4;

/// Why the byte stream cannot continue: the connection must be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {size} bytes exceeds the maximum of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("negative frame size {0}")]
    NegativeSize(i32),
}

/// Splits size-prefixed frames off a receive buffer.
#[derive(Debug, Clone, Copy)]
pub struct FrameDecoder {
    frame_bytes_max: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(limits::FRAME_BYTES_MAX_DEFAULT)
    }
}

impl FrameDecoder {
    /// A decoder refusing frames larger than `frame_bytes_max` (the size
    /// prefix not included).
    pub fn new(frame_bytes_max: usize) -> Self {
        assert!(
            frame_bytes_max <= limits::FRAME_BYTES_MAX_CEILING,
            "frame maximum above the i32 size prefix"
        );
        Self { frame_bytes_max }
    }

    pub fn frame_bytes_max(&self) -> usize {
        self.frame_bytes_max
    }

    /// Bytes still missing from the frame at the front of `buf`: `Some` once
    /// its size prefix has arrived and while the frame is incomplete (and its
    /// size is valid). A reader that asks the socket for exactly this many
    /// bytes ends each large frame at the end of its buffer, so the frame
    /// owns its memory alone.
    pub fn missing_bytes(&self, buf: &[u8]) -> Option<usize> {
        let prefix: [u8; SIZE_PREFIX_BYTES] = buf.get(..SIZE_PREFIX_BYTES)?.try_into().ok()?;
        let size = usize::try_from(i32::from_be_bytes(prefix)).ok()?;
        if size > self.frame_bytes_max {
            return None;
        }
        (SIZE_PREFIX_BYTES + size)
            .checked_sub(buf.len())
            .filter(|&n| n > 0)
    }

    /// Takes the next whole frame (without its size prefix) off the front of
    /// `buf`, or returns `None` if it has not fully arrived. The frame shares
    /// `buf`'s memory: nothing is copied. When a frame is incomplete, `buf`
    /// is grown towards its size (by at most
    /// [`limits::RECEIVE_RESERVE_BYTES_MAX`] at a time) so the reader can
    /// fill it in place.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if buf.len() < SIZE_PREFIX_BYTES {
            return Ok(None);
        }
        let size = i32::from_be_bytes(buf[..SIZE_PREFIX_BYTES].try_into().expect("4 bytes"));
        if size < 0 {
            return Err(FrameError::NegativeSize(size));
        }
        let size = size as usize;
        if size > self.frame_bytes_max {
            return Err(FrameError::TooLarge {
                size,
                max: self.frame_bytes_max,
            });
        }
        let total = SIZE_PREFIX_BYTES + size;
        if buf.len() < total {
            buf.reserve((total - buf.len()).min(limits::RECEIVE_RESERVE_BYTES_MAX));
            return Ok(None);
        }
        buf.advance(SIZE_PREFIX_BYTES);
        Ok(Some(buf.split_to(size).freeze()))
    }
}

/// An encoded frame, size prefix included, as chunks for a vectored write.
/// Large byte fields (record batches) are the caller's own `Bytes`, untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    chunks: Vec<Bytes>,
    len: usize,
}

impl EncodedFrame {
    fn finish(mut encoder: Encoder) -> Self {
        let len = encoder.len();
        let body = len - SIZE_PREFIX_BYTES;
        encoder.patch_i32(0, i32::try_from(body).expect("frame over 2 GiB"));
        let chunks = encoder.into_chunks();
        debug_assert_eq!(chunks.iter().map(Bytes::len).sum::<usize>(), len);
        Self { chunks, len }
    }

    /// The chunks in write order.
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    pub fn into_chunks(self) -> Vec<Bytes> {
        self.chunks
    }

    /// Total bytes, size prefix included.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole frame in one buffer (copies; for tests and small frames).
    pub fn to_bytes(&self) -> Bytes {
        if let [one] = self.chunks.as_slice() {
            return one.clone();
        }
        Bytes::from(self.chunks.concat())
    }
}

/// The request header, versions 0 to 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    pub api_key: ApiKey,
    pub api_version: i16,
    pub correlation_id: i32,
    /// Absent in header v0; nullable in v1 and v2.
    pub client_id: Option<String>,
}

impl RequestHeader {
    pub fn new(api_key: ApiKey, api_version: i16, correlation_id: i32) -> Self {
        Self {
            api_key,
            api_version,
            correlation_id,
            client_id: None,
        }
    }

    fn encode(&self, e: &mut Encoder, header_version: i16) {
        e.i16(self.api_key.code());
        e.i16(self.api_version);
        e.i32(self.correlation_id);
        if header_version >= 1 {
            // The client id stays a classic (non-compact) string even in
            // header v2, so that old brokers can read it.
            e.nullable_string(CLASSIC, self.client_id.as_deref());
        }
        if header_version >= 2 {
            e.uvarint(0);
        }
    }
}

const CLASSIC: Layout = Layout {
    version: 0,
    flexible: false,
};

/// The response header: v0 is the correlation id, v1 adds tagged fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHeader {
    pub correlation_id: i32,
}

/// Why a request frame was refused. The broker answers
/// [`RequestError::UnsupportedVersion`] for ApiVersions with
/// [`encode_api_versions_fallback`]; every other case closes the connection,
/// as Kafka does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("frame of {0} bytes is too short for a request header")]
    TooShort(usize),
    #[error("unknown API key {api_key} (correlation id {correlation_id})")]
    UnknownApi { api_key: i16, correlation_id: i32 },
    #[error("{api_key:?} v{api_version} is not supported (correlation id {correlation_id})")]
    UnsupportedVersion {
        api_key: ApiKey,
        api_version: i16,
        correlation_id: i32,
    },
    #[error(
        "malformed {api_key:?} v{api_version} request (correlation id {correlation_id}): {error}"
    )]
    Malformed {
        api_key: ApiKey,
        api_version: i16,
        correlation_id: i32,
        error: DecodeError,
    },
}

impl RequestError {
    /// The correlation id, when the frame got far enough to carry one.
    pub fn correlation_id(&self) -> Option<i32> {
        match self {
            RequestError::TooShort(_) => None,
            RequestError::UnknownApi { correlation_id, .. }
            | RequestError::UnsupportedVersion { correlation_id, .. }
            | RequestError::Malformed { correlation_id, .. } => Some(*correlation_id),
        }
    }
}

/// Bytes of api key, api version and correlation id: the part of every
/// request header that is the same in all versions.
const REQUEST_HEADER_FIXED_BYTES: usize = 8;

/// Decodes a request frame (as returned by [`FrameDecoder::decode`]). Byte
/// fields of the body, notably Produce record batches, are slices of `frame`.
pub fn decode_request(frame: Bytes) -> Result<(RequestHeader, Request), RequestError> {
    decode_request_with(frame, TrailingBytes::Refuse)
}

/// [`decode_request`] that ignores bytes after a well-formed body, as
/// Kafka's own broker does: librdkafka 2.16 (confluent-kafka 2.16.1) sends
/// a Metadata v12 request for all topics with 3 extra bytes after the body,
/// and Kafka answers it. Returns the number of ignored bytes with the
/// request so that the broker can log them.
pub fn decode_request_lenient(
    frame: Bytes,
) -> Result<(RequestHeader, Request, usize), RequestError> {
    let mut ignored = 0;
    let (header, request) = decode_request_with(frame, TrailingBytes::Ignore(&mut ignored))?;
    Ok((header, request, ignored))
}

enum TrailingBytes<'a> {
    Refuse,
    Ignore(&'a mut usize),
}

fn decode_request_with(
    frame: Bytes,
    trailing: TrailingBytes<'_>,
) -> Result<(RequestHeader, Request), RequestError> {
    if frame.len() < REQUEST_HEADER_FIXED_BYTES {
        return Err(RequestError::TooShort(frame.len()));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let api_version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes(frame[4..8].try_into().expect("4 bytes"));
    let Some(api_key) = ApiKey::from_code(raw_key) else {
        return Err(RequestError::UnknownApi {
            api_key: raw_key,
            correlation_id,
        });
    };
    if !api_key.supports(api_version) {
        return Err(RequestError::UnsupportedVersion {
            api_key,
            api_version,
            correlation_id,
        });
    }
    let malformed = |error| RequestError::Malformed {
        api_key,
        api_version,
        correlation_id,
        error,
    };
    let mut d = Decoder::new(frame);
    d.i64().map_err(malformed)?; // the fixed part, read above
    let client_id = d.nullable_string(CLASSIC).map_err(malformed)?;
    if api_key.request_header_version(api_version) >= 2 {
        d.tagged_fields(|_, _| Ok(false)).map_err(malformed)?;
    }
    let body = Request::decode_body(api_key, &mut d, api_key.layout(api_version))
        .and_then(|body| match trailing {
            TrailingBytes::Refuse => d.finish().map(|()| body),
            TrailingBytes::Ignore(ignored) => {
                *ignored = d.remaining();
                Ok(body)
            }
        })
        .map_err(malformed)?;
    let header = RequestHeader {
        api_key,
        api_version,
        correlation_id,
        client_id,
    };
    Ok((header, body))
}

fn response_encoder(api_key: ApiKey, api_version: i16, correlation_id: i32) -> Encoder {
    let mut e = Encoder::new();
    e.i32(0); // size prefix, patched when finished
    e.i32(correlation_id);
    if api_key.response_header_version(api_version) >= 1 {
        e.uvarint(0);
    }
    e
}

/// Encodes a response to a request of `api_version` (a supported version).
pub fn encode_response<R: ApiResponse>(
    correlation_id: i32,
    api_version: i16,
    body: &R,
) -> EncodedFrame {
    assert!(R::API_KEY.supports(api_version), "unsupported version");
    let mut e = response_encoder(R::API_KEY, api_version, correlation_id);
    body.encode(&mut e, R::API_KEY.layout(api_version));
    EncodedFrame::finish(e)
}

/// [`encode_response`] for a response held in the [`Response`] enum.
pub fn encode_any_response(correlation_id: i32, api_version: i16, body: &Response) -> EncodedFrame {
    let api_key = body.api_key();
    assert!(api_key.supports(api_version), "unsupported version");
    let mut e = response_encoder(api_key, api_version, correlation_id);
    body.encode_body(&mut e, api_key.layout(api_version));
    EncodedFrame::finish(e)
}

/// The answer to an ApiVersions request of a version Sluice does not
/// support: a v0 body with UNSUPPORTED_VERSION and the full list, so that the
/// client can retry with a version it finds there (KIP-511).
pub fn encode_api_versions_fallback(correlation_id: i32) -> EncodedFrame {
    let body = ApiVersionsResponse {
        error_code: ErrorCode::UnsupportedVersion.code(),
        api_keys: crate::api::supported_api_versions(),
        ..Default::default()
    };
    let mut e = response_encoder(ApiKey::ApiVersions, 0, correlation_id);
    body.encode(&mut e, ApiKey::ApiVersions.layout(0));
    EncodedFrame::finish(e)
}

/// Encodes a request (client side). `header.api_key` must be `R`'s API and
/// `header.api_version` a supported version.
pub fn encode_request<R: ApiRequest>(header: &RequestHeader, body: &R) -> EncodedFrame {
    assert_eq!(header.api_key, R::API_KEY, "header names another API");
    encode_any_request(header, |e, layout| body.encode(e, layout))
}

/// [`encode_request`] for a request held in the [`Request`] enum.
pub fn encode_request_enum(header: &RequestHeader, body: &Request) -> EncodedFrame {
    assert_eq!(header.api_key, body.api_key(), "header names another API");
    encode_any_request(header, |e, layout| body.encode_body(e, layout))
}

fn encode_any_request(
    header: &RequestHeader,
    body: impl FnOnce(&mut Encoder, Layout),
) -> EncodedFrame {
    let (api_key, api_version) = (header.api_key, header.api_version);
    assert!(api_key.supports(api_version), "unsupported version");
    let mut e = Encoder::new();
    e.i32(0); // size prefix, patched when finished
    header.encode(&mut e, api_key.request_header_version(api_version));
    body(&mut e, api_key.layout(api_version));
    EncodedFrame::finish(e)
}

/// Decodes a response frame (without its size prefix) to a request of
/// `R`'s API sent as `api_version`. An ApiVersions response that carries
/// UNSUPPORTED_VERSION is read in the v0 format the broker falls back to.
pub fn decode_response<R: ApiResponse>(
    frame: Bytes,
    api_version: i16,
) -> Result<(ResponseHeader, R), DecodeError> {
    let mut d = Decoder::new(frame);
    let header = decode_response_header(&mut d, R::API_KEY, api_version)?;
    let layout = response_layout(&d, R::API_KEY, api_version);
    let body = R::decode(&mut d, layout)?;
    d.finish()?;
    Ok((header, body))
}

/// [`decode_response`] into the [`Response`] enum.
pub fn decode_any_response(
    frame: Bytes,
    api_key: ApiKey,
    api_version: i16,
) -> Result<(ResponseHeader, Response), DecodeError> {
    let mut d = Decoder::new(frame);
    let header = decode_response_header(&mut d, api_key, api_version)?;
    let layout = response_layout(&d, api_key, api_version);
    let body = Response::decode_body(api_key, &mut d, layout)?;
    d.finish()?;
    Ok((header, body))
}

fn decode_response_header(
    d: &mut Decoder,
    api_key: ApiKey,
    api_version: i16,
) -> Result<ResponseHeader, DecodeError> {
    let correlation_id = d.i32()?;
    if api_key.response_header_version(api_version) >= 1 {
        d.tagged_fields(|_, _| Ok(false))?;
    }
    Ok(ResponseHeader { correlation_id })
}

fn response_layout(d: &Decoder, api_key: ApiKey, api_version: i16) -> Layout {
    let rest = d.rest();
    let fallback = api_key == ApiKey::ApiVersions
        && rest.len() >= 2
        && i16::from_be_bytes([rest[0], rest[1]]) == ErrorCode::UnsupportedVersion.code();
    if fallback {
        api_key.layout(0)
    } else {
        api_key.layout(api_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{ApiVersionsRequest, MetadataRequest};

    #[test]
    fn frames_are_split_without_copying() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&3i32.to_be_bytes());
        buf.extend_from_slice(b"ab");
        let d = FrameDecoder::default();
        assert_eq!(d.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b"c");
        buf.extend_from_slice(&0i32.to_be_bytes());
        let before = buf.as_ptr();
        let frame = d.decode(&mut buf).unwrap().unwrap();
        assert_eq!(&frame[..], b"abc");
        assert_eq!(frame.as_ptr(), before.wrapping_add(4));
        assert_eq!(d.decode(&mut buf).unwrap().unwrap().len(), 0);
        assert!(buf.is_empty());
    }

    #[test]
    fn a_size_prefix_alone_reserves_a_bounded_buffer() {
        let mut buf = BytesMut::from(&(90 * 1024 * 1024i32).to_be_bytes()[..]);
        assert_eq!(FrameDecoder::default().decode(&mut buf), Ok(None));
        assert!(buf.capacity() <= limits::RECEIVE_RESERVE_BYTES_MAX + 64);
        assert!(buf.capacity() >= limits::RECEIVE_RESERVE_BYTES_MAX);
    }

    #[test]
    fn oversized_and_negative_frames_are_refused() {
        let d = FrameDecoder::new(10);
        let mut buf = BytesMut::from(&11i32.to_be_bytes()[..]);
        assert_eq!(
            d.decode(&mut buf),
            Err(FrameError::TooLarge { size: 11, max: 10 })
        );
        let mut buf = BytesMut::from(&(-5i32).to_be_bytes()[..]);
        assert_eq!(d.decode(&mut buf), Err(FrameError::NegativeSize(-5)));
    }

    fn body_of(frame: &EncodedFrame) -> Bytes {
        frame.to_bytes().slice(SIZE_PREFIX_BYTES..)
    }

    #[test]
    fn request_header_v2_round_trips() {
        let mut header = RequestHeader::new(ApiKey::Metadata, 12, 77);
        header.client_id = Some("rdkafka".into());
        let body = MetadataRequest {
            topics: None,
            ..Default::default()
        };
        let frame = encode_request(&header, &body);
        let bytes = frame.to_bytes();
        assert_eq!(
            i32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
            bytes.len() - 4
        );
        let (got_header, got_body) = decode_request(body_of(&frame)).unwrap();
        assert_eq!(got_header, header);
        assert_eq!(got_body, Request::Metadata(body));
    }

    #[test]
    fn unknown_and_unsupported_requests_are_typed() {
        let header = [0, 99, 0, 0, 0, 0, 0, 5];
        assert_eq!(
            decode_request(Bytes::copy_from_slice(&header)),
            Err(RequestError::UnknownApi {
                api_key: 99,
                correlation_id: 5
            })
        );
        let header = [0, 18, 0, 9, 0, 0, 0, 6, 0xff, 0xff, 0];
        assert_eq!(
            decode_request(Bytes::copy_from_slice(&header)),
            Err(RequestError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                api_version: 9,
                correlation_id: 6
            })
        );
        assert_eq!(
            decode_request(Bytes::from_static(&[0, 18, 0])),
            Err(RequestError::TooShort(3))
        );
    }

    #[test]
    fn api_versions_fallback_is_v0_and_decodes_for_a_v3_client() {
        let frame = encode_api_versions_fallback(42);
        let bytes = body_of(&frame);
        // header v0: correlation id only, then error code 35
        assert_eq!(&bytes[..6], &[0, 0, 0, 42, 0, 35]);
        let (header, body) = decode_response::<ApiVersionsResponse>(bytes, 3).unwrap();
        assert_eq!(header.correlation_id, 42);
        assert_eq!(body.error_code, ErrorCode::UnsupportedVersion.code());
        assert_eq!(body.api_keys, crate::api::supported_api_versions());
    }

    #[test]
    fn api_versions_v3_response_uses_header_v0() {
        let body = ApiVersionsResponse {
            api_keys: crate::api::supported_api_versions(),
            ..Default::default()
        };
        let frame = encode_response(9, 3, &body);
        let bytes = body_of(&frame);
        // correlation id, then directly the error code: no header tag buffer
        assert_eq!(&bytes[..6], &[0, 0, 0, 9, 0, 0]);
        let (_, back) = decode_response::<ApiVersionsResponse>(bytes, 3).unwrap();
        assert_eq!(back, body);
        let req = ApiVersionsRequest {
            client_software_name: "sluice".into(),
            client_software_version: "0.1".into(),
        };
        let frame = encode_request(&RequestHeader::new(ApiKey::ApiVersions, 3, 1), &req);
        let (_, back) = decode_request(body_of(&frame)).unwrap();
        assert_eq!(back, Request::ApiVersions(req));
    }
}
