//! Raft messages as the algorithm sees them. The wire encoding lives in
//! [`crate::wire`]; these are the decoded, in-memory form whose entry
//! payloads are slices of the receive buffer.

use crate::types::{Entry, Index, NodeId, Snapshot, Term};

/// One message between two members of a group.
#[derive(rkyv::Archive, rkyv::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    /// Sender's term, except pre-vote requests and granted pre-vote
    /// responses, which carry the term the pre-candidate would campaign in.
    pub term: Term,
    pub body: MessageBody,
}

#[derive(rkyv::Archive, rkyv::Serialize, Clone, Debug, PartialEq, Eq)]
pub enum MessageBody {
    /// Would you vote for me at `term`? Changes no state on either side.
    PreVote {
        last_index: Index,
        last_term: Term,
    },
    PreVoteResponse {
        reject: bool,
    },
    /// `transfer` is set when the leader asked this candidate to campaign
    /// (leadership transfer): voters then ignore their leader lease.
    Vote {
        last_index: Index,
        last_term: Term,
        transfer: bool,
    },
    VoteResponse {
        reject: bool,
    },
    /// Entries follow the entry at `prev_index`/`prev_term`.
    Append {
        prev_index: Index,
        prev_term: Term,
        commit: Index,
        entries: Vec<Entry>,
    },
    /// Accepted: `index` is the follower's last index matching the leader.
    /// Rejected: `index` is the rejected `prev_index`, and the hint is the
    /// follower's largest index `hint_index` whose term `hint_term` is not
    /// greater than the leader's `prev_term` (fast backtracking).
    AppendResponse {
        reject: bool,
        index: Index,
        hint_index: Index,
        hint_term: Term,
    },
    /// Leader liveness and commit propagation. `read_ctx` is the latest
    /// read-index round the leader wants confirmed (0: none).
    Heartbeat {
        commit: Index,
        read_ctx: u64,
    },
    HeartbeatResponse {
        read_ctx: u64,
    },
    InstallSnapshot {
        snapshot: Snapshot,
    },
    /// Leadership transfer: campaign now, skipping pre-vote.
    TimeoutNow,
}

impl Message {
    /// Name of the message kind, for traces.
    pub fn kind(&self) -> &'static str {
        match self.body {
            MessageBody::PreVote { .. } => "PreVote",
            MessageBody::PreVoteResponse { .. } => "PreVoteResp",
            MessageBody::Vote { .. } => "Vote",
            MessageBody::VoteResponse { .. } => "VoteResp",
            MessageBody::Append { .. } => "App",
            MessageBody::AppendResponse { .. } => "AppResp",
            MessageBody::Heartbeat { .. } => "Heartbeat",
            MessageBody::HeartbeatResponse { .. } => "HeartbeatResp",
            MessageBody::InstallSnapshot { .. } => "Snap",
            MessageBody::TimeoutNow => "TimeoutNow",
        }
    }

    /// True for messages whose loss only costs latency and that the caller
    /// may coalesce per destination node (one frame for many groups).
    pub fn is_heartbeat(&self) -> bool {
        matches!(
            self.body,
            MessageBody::Heartbeat { .. } | MessageBody::HeartbeatResponse { .. }
        )
    }
}

impl std::fmt::Display for Message {
    /// One line, stable across versions: the scenario traces depend on it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}->{} {} term={}",
            self.from,
            self.to,
            self.kind(),
            self.term
        )?;
        match &self.body {
            MessageBody::PreVote {
                last_index,
                last_term,
            } => write!(f, " last={last_term}/{last_index}"),
            MessageBody::Vote {
                last_index,
                last_term,
                transfer,
            } => {
                write!(f, " last={last_term}/{last_index}")?;
                if *transfer {
                    write!(f, " transfer")?;
                }
                Ok(())
            }
            MessageBody::PreVoteResponse { reject } | MessageBody::VoteResponse { reject } => {
                write!(f, " {}", if *reject { "reject" } else { "grant" })
            }
            MessageBody::Append {
                prev_index,
                prev_term,
                commit,
                entries,
            } => {
                write!(
                    f,
                    " prev={prev_term}/{prev_index} commit={commit} entries=["
                )?;
                for (i, e) in entries.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{}/{}", e.term, e.index)?;
                    if e.kind == crate::types::EntryKind::ConfChange {
                        write!(f, "(conf)")?;
                    }
                }
                write!(f, "]")
            }
            MessageBody::AppendResponse {
                reject,
                index,
                hint_index,
                hint_term,
            } => {
                if *reject {
                    write!(f, " reject index={index} hint={hint_term}/{hint_index}")
                } else {
                    write!(f, " index={index}")
                }
            }
            MessageBody::Heartbeat { commit, read_ctx } => {
                write!(f, " commit={commit} read={read_ctx}")
            }
            MessageBody::HeartbeatResponse { read_ctx } => write!(f, " read={read_ctx}"),
            MessageBody::InstallSnapshot { snapshot } => {
                write!(
                    f,
                    " snap={}/{} voters={:?} learners={:?}",
                    snapshot.meta.term,
                    snapshot.meta.index,
                    snapshot.meta.conf.voters,
                    snapshot.meta.conf.learners
                )
            }
            MessageBody::TimeoutNow => Ok(()),
        }
    }
}
