//! Topic rules: what a valid topic name and topic config are, the topic
//! change a client asks for, and why a change fails (each reason maps to one
//! Kafka error code in the request layer).

use net::ErrorCode;

use crate::limits;

/// Topic-level settings a client may set (CreateTopics configs). Anything
/// else is refused with INVALID_CONFIG rather than silently ignored.
pub const TOPIC_CONFIG_KEYS: &[&str] = &[
    "retention.ms",
    "retention.bytes",
    "segment.bytes",
    "segment.ms",
    "cleanup.policy",
    "max.message.bytes",
    "min.insync.replicas",
    "message.timestamp.type",
];

/// A topic to create.
#[derive(Debug, Clone)]
pub struct NewTopic {
    pub name: String,
    pub partitions: i32,
    /// -1: the broker's default.
    pub replication_factor: i16,
    pub configs: Vec<(String, String)>,
}

/// Why a topic change failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TopicError {
    #[error("topic already exists")]
    AlreadyExists,
    #[error("invalid topic name: {0}")]
    InvalidName(String),
    #[error("invalid partition count {0}")]
    InvalidPartitions(i32),
    #[error("invalid replication factor {0} (partitions are not replicated yet)")]
    InvalidReplicationFactor(i16),
    #[error("cannot place the replicas: {0}")]
    Placement(String),
    #[error("invalid replica assignment: {0}")]
    InvalidAssignment(String),
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    #[error("too many topics (limit {})", limits::TOPICS_MAX)]
    TooManyTopics,
    #[error("unknown topic")]
    Unknown,
    /// This broker does not lead the controller; the client retries (after
    /// a metadata refresh) and the request is forwarded or lands elsewhere.
    #[error("not the controller (the leader is {0:?})")]
    NotController(Option<super::records::NodeId>),
    #[error(transparent)]
    Proposal(super::controller::ProposalError),
    #[error(transparent)]
    ShardGone(crate::shard::mesh::ShardGone),
    #[error("node id {node_id} is already registered by a live broker at {existing}")]
    DuplicateBroker { node_id: i32, existing: String },
    /// The controller leader refused a forwarded change.
    #[error("{message}")]
    Remote { code: i16, message: String },
}

impl TopicError {
    /// The Kafka error code a client gets for it.
    pub fn error_code(&self) -> ErrorCode {
        use super::controller::ProposalError;
        match self {
            TopicError::AlreadyExists => ErrorCode::TopicAlreadyExists,
            TopicError::InvalidName(_) => ErrorCode::InvalidTopicException,
            TopicError::InvalidPartitions(_) => ErrorCode::InvalidPartitions,
            TopicError::InvalidReplicationFactor(_) | TopicError::Placement(_) => {
                ErrorCode::InvalidReplicationFactor
            }
            TopicError::InvalidConfig(_) => ErrorCode::InvalidConfig,
            TopicError::InvalidAssignment(_) => ErrorCode::InvalidReplicaAssignment,
            TopicError::TooManyTopics => ErrorCode::PolicyViolation,
            TopicError::Unknown => ErrorCode::UnknownTopicOrPartition,
            // The client retries after refreshing its metadata.
            TopicError::NotController(_)
            | TopicError::ShardGone(_)
            | TopicError::Proposal(ProposalError::Stopping) => ErrorCode::NotController,
            TopicError::Proposal(ProposalError::Lost | ProposalError::NotLeader { .. }) => {
                ErrorCode::NotController
            }
            TopicError::Proposal(ProposalError::Busy) => ErrorCode::ThrottlingQuotaExceeded,
            TopicError::Proposal(ProposalError::TooLarge) => ErrorCode::PolicyViolation,
            TopicError::Remote { code, .. } => ErrorCode::from_code(*code),
            TopicError::DuplicateBroker { .. } => ErrorCode::DuplicateBrokerRegistration,
        }
    }

    /// Whether the topic existed already (here or on the leader).
    pub fn is_already_exists(&self) -> bool {
        self.error_code() == ErrorCode::TopicAlreadyExists
    }
}

/// Kafka's topic-name rule: 1..=249 characters of `[a-zA-Z0-9._-]`, not `.`
/// or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    let bad = |why: &str| Err(TopicError::InvalidName(format!("{name:?} {why}")));
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > limits::TOPIC_NAME_BYTES_MAX {
        return bad("is longer than 249 characters");
    }
    if name == "." || name == ".." {
        return bad("is reserved");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return bad("may only contain ASCII letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

/// Checks one topic config value; returns the normalised value.
pub fn validate_topic_config(key: &str, value: &str) -> Result<String, TopicError> {
    let bad = || Err(TopicError::InvalidConfig(format!("{key}={value}")));
    if !TOPIC_CONFIG_KEYS.contains(&key) {
        return Err(TopicError::InvalidConfig(format!("unknown config {key}")));
    }
    match key {
        "retention.ms" | "retention.bytes" => match value.parse::<i64>() {
            Ok(v) if v >= -1 => Ok(v.to_string()),
            _ => bad(),
        },
        "segment.bytes" => match value.parse::<i64>() {
            Ok(v) if v >= 1 << 20 => Ok(v.to_string()),
            _ => bad(),
        },
        "segment.ms" | "max.message.bytes" => match value.parse::<i64>() {
            Ok(v) if v >= 1 => Ok(v.to_string()),
            _ => bad(),
        },
        // Accepted only where the broker honours them exactly: one replica,
        // deletion-based retention, producer timestamps.
        "min.insync.replicas" if value == "1" => Ok(value.to_string()),
        "cleanup.policy" if value == "delete" => Ok(value.to_string()),
        "message.timestamp.type" if value == "CreateTime" => Ok(value.to_string()),
        _ => bad(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(validate_topic_name("orders.v1_x-y").is_ok());
        for bad in ["", ".", "..", "a b", "ü", &"x".repeat(250)] {
            assert!(validate_topic_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn topic_configs_are_validated_and_normalised() {
        assert_eq!(
            validate_topic_config("retention.ms", "060000").unwrap(),
            "60000"
        );
        assert!(matches!(
            validate_topic_config("retention.ms", "soon"),
            Err(TopicError::InvalidConfig(_))
        ));
        for (key, value) in [
            ("min.insync.replicas", "2"),
            ("message.timestamp.type", "LogAppendTime"),
            ("cleanup.policy", "compact"),
            ("compression.level", "1"),
        ] {
            assert!(
                matches!(
                    validate_topic_config(key, value),
                    Err(TopicError::InvalidConfig(_))
                ),
                "{key}={value}"
            );
        }
    }
}
