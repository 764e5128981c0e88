//! Request handlers: one module per API family. Each takes a decoded request
//! from `net`, does its work on the owning shards, and returns the encoded
//! response (or `None` when the protocol says not to answer, as for acks=0).

mod admin;
mod fetch;
mod list_offsets;
mod metadata;
mod produce;

use std::rc::Rc;

use net::msg::{ApiVersionsResponse, SaslAuthenticateResponse, SaslHandshakeResponse};
use net::{encode_response, ApiResponse, EncodedFrame, ErrorCode, Request, RequestHeader};

use crate::conn::Peer;
use crate::shard::Shard;

/// Runs one request and encodes its response.
pub async fn handle(
    shard: &Rc<Shard>,
    peer: &Peer,
    header: RequestHeader,
    request: Request,
) -> Option<EncodedFrame> {
    let version = header.api_version;
    tracing::trace!(shard = shard.id, peer = ?peer.addr, api = ?header.api_key, version, correlation_id = header.correlation_id, "request");
    let correlation_id = header.correlation_id;
    let respond = |body: &dyn Encodable| Some(body.encode(correlation_id, version));
    match request {
        Request::ApiVersions(_) => respond(&ApiVersionsResponse {
            api_keys: net::api::supported_api_versions(),
            ..Default::default()
        }),
        Request::Metadata(r) => respond(&metadata::handle(shard, version, r).await),
        Request::Produce(r) => produce::handle(shard, r)
            .await
            .and_then(|body| respond(&body)),
        Request::Fetch(r) => respond(&fetch::handle(shard, r).await),
        Request::ListOffsets(r) => respond(&list_offsets::handle(shard, r).await),
        Request::CreateTopics(r) => respond(&admin::create_topics(shard, r).await),
        Request::DeleteTopics(r) => respond(&admin::delete_topics(shard, version, r).await),
        Request::DescribeConfigs(r) => respond(&admin::describe_configs(shard, r)),
        Request::InitProducerId(r) => respond(&admin::init_producer_id(shard, r).await),
        Request::SaslHandshake(_) => respond(&SaslHandshakeResponse {
            error_code: ErrorCode::UnsupportedSaslMechanism.code(),
            mechanisms: Vec::new(),
        }),
        Request::SaslAuthenticate(_) => respond(&SaslAuthenticateResponse {
            error_code: ErrorCode::IllegalSaslState.code(),
            error_message: Some("SASL is not enabled on this broker".into()),
            ..Default::default()
        }),
        // Consumer-group APIs belong to the coordinator in `crate::group`;
        // they reach it through `group_request`.
        other => group_request(shard, peer, &header, other).await,
    }
}

/// The consumer-group APIs (FindCoordinator, JoinGroup, SyncGroup,
/// Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, ListGroups,
/// DescribeGroups, DeleteGroups) belong to the coordinator in `crate::group`.
async fn group_request(
    shard: &Rc<Shard>,
    peer: &Peer,
    header: &RequestHeader,
    request: Request,
) -> Option<EncodedFrame> {
    crate::group::handlers::handle(shard, peer, header, request).await
}

/// Object-safe encoding, so `handle` can treat every response body alike.
trait Encodable {
    fn encode(&self, correlation_id: i32, version: i16) -> EncodedFrame;
}

impl<R: ApiResponse> Encodable for R {
    fn encode(&self, correlation_id: i32, version: i16) -> EncodedFrame {
        encode_response(correlation_id, version, self)
    }
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The Kafka error for a catalogue failure.
pub(crate) fn topic_error_code(e: &crate::catalogue::TopicError) -> ErrorCode {
    use crate::catalogue::TopicError;
    match e {
        TopicError::AlreadyExists => ErrorCode::TopicAlreadyExists,
        TopicError::InvalidName(_) => ErrorCode::InvalidTopicException,
        TopicError::InvalidPartitions(_) => ErrorCode::InvalidPartitions,
        TopicError::InvalidReplicationFactor(_) => ErrorCode::InvalidReplicationFactor,
        TopicError::InvalidConfig(_) => ErrorCode::InvalidConfig,
        TopicError::TooManyTopics => ErrorCode::PolicyViolation,
        TopicError::Unknown => ErrorCode::UnknownTopicOrPartition,
        TopicError::Storage(_) => ErrorCode::KafkaStorageError,
    }
}

/// Runs `jobs` (one per owner shard) concurrently and returns their results
/// in the order given.
pub(crate) async fn join_all<T: 'static>(jobs: Vec<glommio::Task<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        out.push(job.await);
    }
    out
}
