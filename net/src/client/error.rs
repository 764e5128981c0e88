//! Client errors: what failed, where, and whether retrying can help.

use std::net::SocketAddr;

use crate::api::ApiKey;
use crate::error::ErrorCode;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("connection to {addr} failed: {reason}")]
    Connection { addr: SocketAddr, reason: String },
    #[error("no response to {api:?} from {addr} within {timeout_ms} ms")]
    Timeout {
        addr: SocketAddr,
        api: ApiKey,
        timeout_ms: u64,
    },
    #[error("malformed {api:?} response from {addr}: {reason}")]
    Decode {
        addr: SocketAddr,
        api: ApiKey,
        reason: String,
    },
    #[error("broker {addr} does not support {api:?} (needs a version in {ours_min}..={ours_max})")]
    Unsupported {
        addr: SocketAddr,
        api: ApiKey,
        ours_min: i16,
        ours_max: i16,
    },
    #[error("{context}: broker error {code}")]
    Broker { context: String, code: ErrorCode },
    #[error("topic {0} has no partition {1} in the broker's metadata")]
    UnknownPartition(String, i32),
    #[error("partition {topic}-{partition} has no leader")]
    NoLeader { topic: String, partition: i32 },
    #[error("invalid record batch from the broker: {0}")]
    BadBatch(String),
    #[error("bad client configuration: {0}")]
    Config(String),
}

impl ClientError {
    /// Whether the same request may succeed after a metadata refresh and a
    /// short pause.
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Broker { code, .. } => code.is_retriable(),
            // A broker that refuses connections may be restarting.
            ClientError::Connect { .. }
            | ClientError::Connection { .. }
            | ClientError::Timeout { .. }
            | ClientError::NoLeader { .. } => true,
            _ => false,
        }
    }

    /// A short stable name for counting errors by kind.
    pub fn kind(&self) -> String {
        match self {
            ClientError::Broker { code, .. } => format!("{code:?}"),
            ClientError::Connect { .. } => "connect".into(),
            ClientError::Connection { .. } => "connection".into(),
            ClientError::Timeout { .. } => "timeout".into(),
            ClientError::Decode { .. } => "decode".into(),
            ClientError::Unsupported { .. } => "unsupported-version".into(),
            ClientError::UnknownPartition(..) => "unknown-partition".into(),
            ClientError::NoLeader { .. } => "no-leader".into(),
            ClientError::BadBatch(_) => "bad-batch".into(),
            ClientError::Config(_) => "config".into(),
        }
    }
}

pub type ClientResult<T> = Result<T, ClientError>;
