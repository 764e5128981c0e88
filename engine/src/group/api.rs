//! The coordinator's requests and answers, as plain values.
//!
//! These mirror the fields of the Kafka group APIs that the coordinator
//! decides on; the request handlers translate between them and `net`'s
//! decoded messages, so that the state machine never depends on a wire
//! version.

use bytes::Bytes;

use super::error::ErrorCode;

/// A token the caller chooses for a request whose answer may come later
/// (JoinGroup, SyncGroup). The answer is handed back in [`Ready::replies`]
/// with the same token.
pub type RequestId = u64;

/// One assignor a member offers, with its opaque subscription metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    pub name: String,
    pub metadata: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    pub group_id: String,
    pub session_timeout_ms: i32,
    /// -1 (JoinGroup v0) means "the session timeout".
    pub rebalance_timeout_ms: i32,
    /// Empty for a member joining for the first time.
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
    pub client_id: String,
    pub client_host: String,
    /// JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED with
    /// its id and must join again with it.
    pub require_known_member_id: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResponse {
    pub error: ErrorCode,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    /// JoinGroup v9: the leader must not compute a new assignment (a static
    /// leader rejoined a stable group).
    pub skip_assignment: bool,
    pub member_id: String,
    /// Every member with its metadata for the chosen protocol; only the leader
    /// gets them.
    pub members: Vec<JoinMember>,
}

impl JoinResponse {
    pub fn error(error: ErrorCode, member_id: &str) -> Self {
        Self {
            error,
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: member_id.to_string(),
            members: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// SyncGroup v5+; checked against the group's when present.
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// Only the leader sends assignments: (member id, assignment).
    pub assignments: Vec<(String, Bytes)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResponse {
    pub error: ErrorCode,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResponse {
    pub fn error(error: ErrorCode) -> Self {
        Self {
            error,
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeavingMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveRequest {
    pub group_id: String,
    /// LeaveGroup v0-2 carry exactly one member; v3+ a batch.
    pub members: Vec<LeavingMember>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub error: ErrorCode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveResponse {
    /// A group-level failure; per-member results are in `members`. Versions
    /// 0-2 answer the first member's error when this is None.
    pub error: ErrorCode,
    pub members: Vec<LeftMember>,
}

impl LeaveResponse {
    /// The single error code of LeaveGroup v0-2.
    pub fn legacy_error(&self) -> ErrorCode {
        if !self.error.is_ok() {
            return self.error;
        }
        self.members
            .first()
            .map(|m| m.error)
            .unwrap_or(ErrorCode::None)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitPartition {
    pub partition: i32,
    pub offset: i64,
    /// -1 when unknown (OffsetCommit before v6).
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitTopic {
    pub name: String,
    pub partitions: Vec<CommitPartition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitRequest {
    pub group_id: String,
    /// -1 for a commit from a consumer outside any group ("simple" commit).
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// OffsetCommit v2-4 retention override; -1 uses the broker's retention.
    pub retention_time_ms: i64,
    pub topics: Vec<CommitTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitTopicResult {
    pub name: String,
    pub partitions: Vec<(i32, ErrorCode)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitResponse {
    pub topics: Vec<CommitTopicResult>,
}

impl OffsetCommitResponse {
    /// The same error for every partition of the request.
    pub fn all(request: &OffsetCommitRequest, error: ErrorCode) -> Self {
        Self {
            topics: request
                .topics
                .iter()
                .map(|t| CommitTopicResult {
                    name: t.name.clone(),
                    partitions: t.partitions.iter().map(|p| (p.partition, error)).collect(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchRequest {
    pub group_id: String,
    /// None fetches every partition the group committed (OffsetFetch v2+).
    pub topics: Option<Vec<(String, Vec<i32>)>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPartition {
    pub partition: i32,
    /// -1 when nothing is committed.
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub error: ErrorCode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedTopic {
    pub name: String,
    pub partitions: Vec<FetchedPartition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchResponse {
    pub error: ErrorCode,
    pub topics: Vec<FetchedTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Empty unless the group is stable, as in Kafka.
    pub metadata: Bytes,
    pub assignment: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedGroup {
    pub error: ErrorCode,
    pub group_id: String,
    /// "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead".
    pub state: &'static str,
    pub protocol_type: String,
    pub protocol_name: String,
    pub members: Vec<DescribedMember>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    pub group_id: String,
    pub protocol_type: String,
    pub state: &'static str,
}

/// A deferred answer for the request with token `request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub request: RequestId,
    pub body: ReplyBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyBody {
    Join(JoinResponse),
    Sync(SyncResponse),
}

impl ReplyBody {
    /// The same kind of answer carrying `error`, for when the records the
    /// answer depends on could not be made durable.
    pub fn failed(&self, error: ErrorCode) -> ReplyBody {
        match self {
            ReplyBody::Join(j) => ReplyBody::Join(JoinResponse::error(error, &j.member_id)),
            ReplyBody::Sync(_) => ReplyBody::Sync(SyncResponse::error(error)),
        }
    }
}
