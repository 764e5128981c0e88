//! The Kafka API layer: connections ([`conn`]) and request handlers, one
//! module per API family. Each handler takes a decoded request from `net`,
//! does its work on the owning shards, and returns the encoded response (or
//! `None` when the protocol says not to answer, as for acks=0).
//!
//! [`dispatch`] is the entry point, called by the connection for each request
//! in arrival order. Requests that change state (Produce, the group APIs,
//! topic and producer-id changes) hand their work to its owners before
//! `dispatch` returns, so that a connection's changes apply in its request
//! order (see ARCHITECTURE.md, invariants); the rest of each request runs in
//! the task `dispatch` returns, concurrently with later requests.

mod admin;
mod cluster_info;
pub mod conn;
mod connections;
mod fetch;
mod groups;
mod list_offsets;
mod metadata;
mod produce;
mod recv;
mod route;
#[cfg(test)]
mod tests;

pub use connections::Connections;

use std::rc::Rc;

use net::msg::{ApiVersionsResponse, SaslAuthenticateResponse, SaslHandshakeResponse};
use std::net::SocketAddr;

use net::{encode_response, ApiKey, ApiResponse, EncodedFrame, ErrorCode, Request, RequestHeader};

use crate::shard::Shard;

/// Per-connection facts a handler may need.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: Option<SocketAddr>,
    pub client_id: Option<String>,
}

/// The APIs this broker answers: ApiVersions advertises these (with the
/// versions of `net::SUPPORTED_VERSIONS`), and a request for any other API
/// closes the connection. `net` decodes more than the broker serves yet.
const HANDLED: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::SyncGroup,
    ApiKey::DescribeGroups,
    ApiKey::ListGroups,
    ApiKey::SaslHandshake,
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::InitProducerId,
    ApiKey::DescribeConfigs,
    ApiKey::SaslAuthenticate,
    ApiKey::DeleteGroups,
    ApiKey::DescribeCluster,
    ApiKey::DescribeQuorum,
    ApiKey::CreatePartitions,
];

/// Whether this broker answers `api`.
pub fn handles(api: ApiKey) -> bool {
    HANDLED.contains(&api)
}

/// The ApiVersions answer: the handled APIs and their versions.
fn advertised_versions() -> Vec<net::msg::api_versions_response::ApiVersion> {
    net::api::supported_api_versions()
        .into_iter()
        .filter(|v| ApiKey::from_code(v.api_key).is_some_and(handles))
        .collect()
}

/// A request's response on its way (`None`: nothing to send, as for acks=0).
pub type Responding = glommio::Task<Option<EncodedFrame>>;

/// Starts one request: its ordered part runs before this returns, the rest
/// in the returned task.
pub async fn dispatch(
    shard: &Rc<Shard>,
    peer: &Rc<Peer>,
    header: RequestHeader,
    request: Request,
) -> Responding {
    let version = header.api_version;
    let correlation_id = header.correlation_id;
    tracing::trace!(shard = shard.id, peer = ?peer.addr, api = ?header.api_key, version, correlation_id, "request");
    let respond = move |body: &dyn Encodable| Some(body.encode(correlation_id, version));
    match request {
        Request::Produce(r) => {
            let response = produce::dispatch(shard, r).await;
            glommio::spawn_local(async move { response.await.and_then(|body| respond(&body)) })
        }
        Request::CreateTopics(r) => {
            let response = admin::create_topics(shard, r).await;
            glommio::spawn_local(async move { respond(&response.await) })
        }
        Request::CreatePartitions(r) => {
            let response = admin::create_partitions(shard, r).await;
            glommio::spawn_local(async move { respond(&response.await) })
        }
        Request::DeleteTopics(r) => {
            let response = admin::delete_topics(shard, version, r).await;
            glommio::spawn_local(async move { respond(&response.await) })
        }
        Request::InitProducerId(r) => {
            let response = admin::init_producer_id(shard, r).await;
            glommio::spawn_local(async move { respond(&response.await) })
        }
        request @ (Request::FindCoordinator(_)
        | Request::JoinGroup(_)
        | Request::SyncGroup(_)
        | Request::Heartbeat(_)
        | Request::LeaveGroup(_)
        | Request::OffsetCommit(_)
        | Request::OffsetFetch(_)
        | Request::DescribeGroups(_)
        | Request::ListGroups(_)
        | Request::DeleteGroups(_)) => {
            match groups::dispatch(shard, peer, &header, request).await {
                Some(response) => glommio::spawn_local(async move { Some(response.await) }),
                None => glommio::spawn_local(async { None }),
            }
        }
        // Reads: nothing to order; they run concurrently with later requests.
        request => {
            let shard = shard.clone();
            glommio::spawn_local(async move {
                read(&shard, version, request)
                    .await
                    .as_deref()
                    .and_then(respond)
            })
        }
    }
}

/// The requests that only read state.
async fn read(shard: &Rc<Shard>, version: i16, request: Request) -> Option<Box<dyn Encodable>> {
    Some(match request {
        Request::ApiVersions(_) => Box::new(ApiVersionsResponse {
            api_keys: advertised_versions(),
            ..Default::default()
        }),
        Request::Metadata(r) => Box::new(metadata::handle(shard, version, r).await),
        Request::Fetch(r) => Box::new(fetch::handle(shard, r).await),
        Request::ListOffsets(r) => Box::new(list_offsets::handle(shard, r).await),
        Request::DescribeConfigs(r) => Box::new(admin::describe_configs(shard, r)),
        Request::DescribeCluster(r) => Box::new(cluster_info::describe_cluster(shard, r)),
        Request::DescribeQuorum(r) => Box::new(cluster_info::describe_quorum(shard, r).await),
        Request::SaslHandshake(_) => Box::new(SaslHandshakeResponse {
            error_code: ErrorCode::UnsupportedSaslMechanism.code(),
            mechanisms: Vec::new(),
        }),
        Request::SaslAuthenticate(_) => Box::new(SaslAuthenticateResponse {
            error_code: ErrorCode::IllegalSaslState.code(),
            error_message: Some("SASL is not enabled on this broker".into()),
            ..Default::default()
        }),
        other => {
            tracing::warn!(api = ?other.api_key(), "request without a handler");
            return None;
        }
    })
}

/// Object-safe encoding, so `dispatch` can treat every response body alike.
trait Encodable {
    fn encode(&self, correlation_id: i32, version: i16) -> EncodedFrame;
}

impl<R: ApiResponse> Encodable for R {
    fn encode(&self, correlation_id: i32, version: i16) -> EncodedFrame {
        encode_response(correlation_id, version, self)
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
