//! What the coordinator makes durable, as values: the latest committed offset
//! of a partition and the latest settled state of a group. Each is keyed like
//! a compacted topic, so replaying the log and keeping the last value per key
//! rebuilds the coordinator; `None` values are tombstones.
//!
//! The byte encoding lives in [`super::codec`].

use bytes::Bytes;

use super::api::{Reply, ReplyBody};
use super::error::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
    /// Set only by OffsetCommit v2-4 with an explicit retention time.
    pub expire_timestamp_ms: Option<i64>,
}

/// One member as a settled (stable) group remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSnapshot {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: u32,
    pub rebalance_timeout_ms: u32,
    /// The member's metadata for the group's chosen protocol.
    pub subscription: Bytes,
    pub assignment: Bytes,
}

/// A group after a completed rebalance (members with assignments) or after
/// it became empty (no members).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSnapshot {
    pub protocol_type: Option<String>,
    pub generation: i32,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    /// When the group entered its current state; offsets of an empty group
    /// expire counting from here.
    pub state_timestamp_ms: i64,
    pub members: Vec<MemberSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRecord {
    Offset {
        group_id: String,
        topic: String,
        partition: i32,
        value: Option<CommittedOffset>,
    },
    Group {
        group_id: String,
        value: Option<GroupSnapshot>,
    },
}

impl GroupRecord {
    pub fn group_id(&self) -> &str {
        match self {
            GroupRecord::Offset { group_id, .. } | GroupRecord::Group { group_id, .. } => group_id,
        }
    }
}

/// The coordinator's output since the last [`take`](super::Coordinator::take_ready):
/// the caller appends `records` to the group's `__consumer_offsets` partition,
/// in order, and only once they are durable sends `replies` (an answer may
/// tell a member about state those records describe).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ready {
    pub records: Vec<GroupRecord>,
    pub replies: Vec<Reply>,
}

impl Ready {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.replies.is_empty()
    }

    pub(crate) fn reply(&mut self, request: super::api::RequestId, body: ReplyBody) {
        self.replies.push(Reply { request, body });
    }

    /// Turns every reply into an error of its kind: the records could not be
    /// written, so nothing they describe may be promised to a client.
    pub fn fail_replies(&mut self, error: ErrorCode) {
        for reply in &mut self.replies {
            reply.body = reply.body.failed(error);
        }
    }
}
