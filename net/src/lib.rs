//! `net` owns the Kafka wire format: framing, request and response headers,
//! every message body Sluice speaks (both directions, so the broker and the
//! bundled client share one codec), record batch validation on top of
//! `storage::batch`, and a record iterator for the few places that look
//! inside batches. It also owns the node-to-node transport ([`rpc`]).
//!
//! It must never touch disks or partition state, never copy record bytes on
//! the Produce and Fetch paths (batches are slices of the receive buffer in
//! and separate chunks of a vectored write out), and never trust a count or
//! length from the wire: every one is checked against the bytes left and the
//! bounds in [`limits`] before anything is allocated, so no frame, however
//! hostile, can crash or exhaust the broker.
//!
//! Entry points: [`frame::FrameDecoder`], [`frame::decode_request`],
//! [`frame::encode_response`] (broker); [`frame::encode_request`],
//! [`frame::decode_response`] (client); [`records`] for batches;
//! [`RecordSet`] for the Fetch records field, kept in the chunks storage
//! returned.
//!
//! [`rpc`] is the node-to-node transport: one TCP connection per (local
//! shard, remote node) carrying `consensus::wire` Raft frames and
//! request/response calls in one 16-byte-header frame format, a [`rpc::Link`]
//! per remote node (lazy connect, hello, bounded queue, coalesced vectored
//! writes, reconnect with backoff) and a [`rpc::Listener`] per shard that
//! hands what arrives to the engine. It carries Raft frames and call
//! payloads as opaque bytes, 16-aligned slices of the receive buffer, and
//! never decodes them: that is `consensus` and `engine`'s business.

pub mod api;
pub mod client;
pub mod codec;
pub mod error;
pub mod frame;
pub mod limits;
pub mod msg;
pub mod record_set;
pub mod records;
pub mod rpc;

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

pub use api::{
    ApiKey, ApiRequest, ApiResponse, ApiVersionRange, Request, Response, SUPPORTED_VERSIONS,
};
pub use codec::{DecodeError, Uuid};
pub use error::ErrorCode;
pub use frame::{
    decode_any_response, decode_request, decode_request_lenient, decode_response,
    encode_any_response, encode_api_versions_fallback, encode_request, encode_request_enum,
    encode_response, EncodedFrame, FrameDecoder, FrameError, RequestError, RequestHeader,
    ResponseHeader,
};
pub use record_set::RecordSet;
