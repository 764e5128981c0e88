//! Plain data types shared by the algorithm, storage and wire layers.

use bytes::Bytes;

/// A node's identity inside a group. 0 means "none" and is never a member.
pub type NodeId = u64;
/// Identifies one Raft group on a node; the core does not use it, the wire
/// layer carries it so many groups share one connection.
pub type GroupId = u64;
/// A Raft term. Starts at 0 in a fresh log.
pub type Term = u64;
/// A log index. The first real entry has index 1; index 0 is the empty prefix.
pub type Index = u64;

/// No node (no vote, no known leader).
pub const NO_NODE: NodeId = 0;

/// What an entry carries. The core looks inside `ConfChange` entries only; a
/// `Normal` payload is opaque bytes (a Kafka record batch for a partition).
#[derive(rkyv::Archive, rkyv::Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Normal,
    /// Payload is an encoded [`ConfChange`].
    ConfChange,
}

/// One log entry. Invariant: inside any log, indexes are contiguous.
#[derive(rkyv::Archive, rkyv::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub term: Term,
    pub index: Index,
    pub kind: EntryKind,
    pub data: Bytes,
}

impl Entry {
    /// Bytes this entry counts against message and apply budgets.
    pub fn size_bytes(&self) -> u64 {
        self.data.len() as u64 + 24
    }
}

/// State that must be durable before any message depending on it is sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardState {
    pub term: Term,
    pub vote: NodeId,
    pub commit: Index,
}

/// Group membership. Voters count towards quorums; learners receive the log
/// but never vote. Invariant: the two sets are disjoint, each sorted.
#[derive(rkyv::Archive, rkyv::Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfState {
    pub voters: Vec<NodeId>,
    pub learners: Vec<NodeId>,
}

impl ConfState {
    pub fn new(mut voters: Vec<NodeId>, mut learners: Vec<NodeId>) -> ConfState {
        voters.sort_unstable();
        voters.dedup();
        learners.sort_unstable();
        learners.dedup();
        let conf = ConfState { voters, learners };
        conf.assert_valid();
        conf
    }

    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.binary_search(&id).is_ok()
    }

    pub fn is_learner(&self, id: NodeId) -> bool {
        self.learners.binary_search(&id).is_ok()
    }

    pub fn contains(&self, id: NodeId) -> bool {
        self.is_voter(id) || self.is_learner(id)
    }

    /// Votes (or acknowledgements) needed for a majority of voters.
    pub fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    /// Members in ascending id order, voters and learners mixed.
    pub fn members(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.voters.iter().chain(self.learners.iter()).copied()
    }

    /// The membership after `change`, or why the change is not allowed.
    pub fn apply(&self, change: ConfChange) -> Result<ConfState, &'static str> {
        let mut voters = self.voters.clone();
        let mut learners = self.learners.clone();
        match change {
            ConfChange::AddLearner(id) => {
                if id == NO_NODE || self.contains(id) {
                    return Err("node is already a member");
                }
                learners.push(id);
            }
            ConfChange::PromoteLearner(id) => {
                if !self.is_learner(id) {
                    return Err("node is not a learner");
                }
                learners.retain(|&l| l != id);
                voters.push(id);
            }
            ConfChange::Remove(id) => {
                if !self.contains(id) {
                    return Err("node is not a member");
                }
                if self.is_voter(id) && self.voters.len() == 1 {
                    return Err("cannot remove the last voter");
                }
                voters.retain(|&v| v != id);
                learners.retain(|&l| l != id);
            }
        }
        if voters.len() + learners.len() > crate::limits::MEMBERS_MAX {
            return Err("too many members");
        }
        Ok(ConfState::new(voters, learners))
    }

    pub fn assert_valid(&self) {
        assert!(
            self.voters.windows(2).all(|w| w[0] < w[1]),
            "voters unsorted: {self:?}"
        );
        assert!(
            self.learners.windows(2).all(|w| w[0] < w[1]),
            "learners unsorted: {self:?}"
        );
        assert!(
            self.voters.iter().all(|v| !self.is_learner(*v)),
            "voter is also learner: {self:?}"
        );
        assert!(!self.contains(NO_NODE), "node 0 is reserved: {self:?}");
    }
}

/// A single-server membership change. Voters are only ever added through the
/// learner stage, so a new voter never stalls the quorum while it catches up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfChange {
    AddLearner(NodeId),
    PromoteLearner(NodeId),
    Remove(NodeId),
}

impl ConfChange {
    const TAG_ADD_LEARNER: u8 = 1;
    const TAG_PROMOTE: u8 = 2;
    const TAG_REMOVE: u8 = 3;

    /// Nine bytes: a tag and the node id, little-endian.
    pub fn encode(&self) -> Bytes {
        let (tag, id) = match *self {
            ConfChange::AddLearner(id) => (Self::TAG_ADD_LEARNER, id),
            ConfChange::PromoteLearner(id) => (Self::TAG_PROMOTE, id),
            ConfChange::Remove(id) => (Self::TAG_REMOVE, id),
        };
        let mut buf = Vec::with_capacity(9);
        buf.push(tag);
        buf.extend_from_slice(&id.to_le_bytes());
        Bytes::from(buf)
    }

    pub fn decode(data: &[u8]) -> Option<ConfChange> {
        if data.len() != 9 {
            return None;
        }
        let id = u64::from_le_bytes(data[1..9].try_into().ok()?);
        match data[0] {
            Self::TAG_ADD_LEARNER => Some(ConfChange::AddLearner(id)),
            Self::TAG_PROMOTE => Some(ConfChange::PromoteLearner(id)),
            Self::TAG_REMOVE => Some(ConfChange::Remove(id)),
            _ => None,
        }
    }
}

/// Describes the log prefix a snapshot replaces.
#[derive(rkyv::Archive, rkyv::Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotMeta {
    pub index: Index,
    pub term: Term,
    /// Membership as of `index`.
    pub conf: ConfState,
}

/// The application's state at `meta.index`; `data` is opaque to the core.
#[derive(rkyv::Archive, rkyv::Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub meta: SnapshotMeta,
    pub data: Bytes,
}

/// Role of a node in its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

/// Volatile state the application may want to observe (who leads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftState {
    pub leader: NodeId,
    pub role: Role,
}

/// A linearizable read may be served once the local applied index reaches
/// `index`. `ctx` is the caller's request id, returned as given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadState {
    pub ctx: u64,
    pub index: Index,
}
