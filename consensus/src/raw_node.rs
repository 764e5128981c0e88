//! The single-threaded facade the runtime drives: inputs go in through
//! `tick`/`step`/`propose`, outputs come out as one [`Ready`] at a time.

use crate::message::Message;
use crate::raft::{Config, ProposeError, Raft};
use crate::storage::Storage;
use crate::types::{
    ConfChange, ConfState, Entry, HardState, Index, NodeId, ReadState, Role, Snapshot, SoftState,
    Term,
};

/// Work for the application, produced by [`RawNode::ready`] and confirmed by
/// [`RawNode::advance`]. Fields are listed in the order the duties must be
/// done; any step may be done in parallel with the others only where noted.
#[derive(Debug, Default)]
pub struct Ready {
    /// Leader/role change. Informational, no ordering duty.
    pub soft_state: Option<SoftState>,
    /// 1. If set, install this snapshot durably (storage and state machine)
    ///    before persisting `entries`: they follow it in the log.
    pub snapshot: Option<Snapshot>,
    /// 2. Append to durable storage, discarding any stored entries at or
    ///    after the first one's index (they were overwritten by a leader).
    pub entries: Vec<Entry>,
    /// 3. Persist durably, after `entries` (a commit index must never point
    ///    past durable entries after a crash).
    pub hard_state: Option<HardState>,
    /// 4. Send only after 1-3 are durable: a vote or an append
    ///    acknowledgement promises state that must survive a crash.
    ///    Heartbeats among them may be coalesced per destination node.
    pub messages: Vec<Message>,
    /// 5. Apply to the state machine in order, after 1-3 are durable. A
    ///    `ConfChange` entry needs no action: membership already changed.
    pub committed_entries: Vec<Entry>,
    /// 6. Answer each read once the applied index reaches `index`.
    pub read_states: Vec<ReadState>,
    /// Whether steps 1-3 need a durable write (fsync) before step 4. False
    /// when only the commit index changed: a commit index lost in a crash is
    /// learned again from the leader, so it may be written lazily.
    pub must_sync: bool,
}

/// What the application promised to have done when it calls `advance`.
#[derive(Debug)]
struct Handed {
    last_entry: Option<(Index, Term)>,
    snapshot_index: Option<Index>,
    last_committed: Option<Index>,
}

/// One node of one Raft group. Owns the group's storage handle, so the
/// application writes through [`RawNode::store_mut`] what a `Ready` asks for.
pub struct RawNode<S> {
    raft: Raft<S>,
    prev_hard: HardState,
    prev_soft: SoftState,
    handed: Option<Handed>,
}

/// A snapshot of a node's observable state, for tests and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub id: NodeId,
    pub role: Role,
    pub term: Term,
    pub leader: NodeId,
    pub commit: Index,
    pub applied: Index,
    pub first_index: Index,
    pub last_index: Index,
}

impl<S: Storage> RawNode<S> {
    pub fn new(cfg: &Config, store: S) -> RawNode<S> {
        let raft = Raft::new(cfg, store);
        let prev_hard = HardState {
            term: raft.term,
            vote: raft.vote,
            commit: raft.log.committed,
        };
        let prev_soft = SoftState {
            leader: raft.leader,
            role: raft.role,
        };
        RawNode {
            raft,
            prev_hard,
            prev_soft,
            handed: None,
        }
    }

    /// One unit of logical time. The runtime calls it for every group on a
    /// node from one timer; nothing here keeps a timer of its own.
    pub fn tick(&mut self) {
        self.raft.tick();
    }

    /// Feeds a message received from another member.
    pub fn step(&mut self, msg: Message) {
        self.raft.step(msg);
    }

    pub fn propose(&mut self, data: bytes::Bytes) -> Result<Index, ProposeError> {
        self.raft.propose(data)
    }

    pub fn propose_conf_change(&mut self, change: ConfChange) -> Result<Index, ProposeError> {
        self.raft.propose_conf_change(change)
    }

    pub fn transfer_leader(&mut self, to: NodeId) -> Result<(), ProposeError> {
        self.raft.transfer_leader(to)
    }

    pub fn read_index(&mut self, ctx: u64) -> Result<(), ProposeError> {
        self.raft.read_index(ctx)
    }

    /// Starts an election at once (skipping pre-vote is not implied).
    pub fn campaign(&mut self) {
        self.raft.campaign(false);
    }

    fn hard_state(&self) -> HardState {
        HardState {
            term: self.raft.term,
            vote: self.raft.vote,
            commit: self.raft.log.committed,
        }
    }

    fn soft_state(&self) -> SoftState {
        SoftState {
            leader: self.raft.leader,
            role: self.raft.role,
        }
    }

    /// Is there anything for the application to do? False while a `Ready`
    /// is handed out and not yet advanced.
    pub fn has_ready(&self) -> bool {
        if self.handed.is_some() {
            return false;
        }
        let log = &self.raft.log;
        self.soft_state() != self.prev_soft
            || self.hard_state() != self.prev_hard
            || log.unstable_snapshot().is_some()
            || !log.unstable_entries().is_empty()
            || !self.raft.msgs.is_empty()
            || log.has_next_committed_entries()
            || !self.raft.read_states.is_empty()
    }

    /// Takes the pending work. Call `advance` once it is done before the next
    /// `ready`; `tick`/`step`/`propose` remain allowed in between.
    pub fn ready(&mut self) -> Ready {
        assert!(
            self.handed.is_none(),
            "ready() called twice without advance()"
        );
        self.raft.flush_commit_broadcast();
        let mut ready = Ready::default();
        let soft = self.soft_state();
        if soft != self.prev_soft {
            ready.soft_state = Some(soft);
            self.prev_soft = soft;
        }
        let hard = self.hard_state();
        let term_or_vote_changed =
            hard.term != self.prev_hard.term || hard.vote != self.prev_hard.vote;
        if hard != self.prev_hard {
            ready.hard_state = Some(hard);
            self.prev_hard = hard;
        }
        let log = &self.raft.log;
        ready.snapshot = log.unstable_snapshot().cloned();
        ready.must_sync =
            term_or_vote_changed || ready.snapshot.is_some() || !log.unstable_entries().is_empty();
        ready.entries = log.unstable_entries().to_vec();
        if log.has_next_committed_entries() {
            ready.committed_entries = log.next_committed_entries(crate::limits::APPLY_BYTES_MAX);
        }
        ready.messages = std::mem::take(&mut self.raft.msgs);
        ready.read_states = std::mem::take(&mut self.raft.read_states);
        self.handed = Some(Handed {
            last_entry: ready.entries.last().map(|e| (e.index, e.term)),
            snapshot_index: ready.snapshot.as_ref().map(|s| s.meta.index),
            last_committed: ready.committed_entries.last().map(|e| e.index),
        });
        ready
    }

    /// Confirms the last `Ready` was handled as its contract says.
    pub fn advance(&mut self) {
        let handed = self.handed.take().expect("advance() without ready()");
        if let Some(index) = handed.snapshot_index {
            self.raft.on_snapshot_persisted(index);
            self.raft.on_applied(index);
        }
        if let Some((index, term)) = handed.last_entry {
            self.raft.on_persisted(index, term);
        }
        if let Some(index) = handed.last_committed {
            self.raft.on_applied(index);
        }
    }

    /// The runtime's report on a snapshot it sent to `to` out of band:
    /// on failure the leader probes again (and resends if still needed).
    pub fn report_snapshot(&mut self, to: NodeId, ok: bool) {
        self.raft.report_snapshot(to, ok);
    }

    /// The runtime could not reach `to`: stop pipelining to it and probe.
    pub fn report_unreachable(&mut self, to: NodeId) {
        self.raft.report_unreachable(to);
    }

    pub fn status(&self) -> Status {
        let log = &self.raft.log;
        Status {
            id: self.raft.id,
            role: self.raft.role,
            term: self.raft.term,
            leader: self.raft.leader,
            commit: log.committed,
            applied: log.applied,
            first_index: log.first_index(),
            last_index: log.last_index(),
        }
    }

    /// Membership in force (latest in the log).
    pub fn conf(&self) -> &ConfState {
        self.raft.conf()
    }

    /// Membership as of the applied index: store it with a snapshot of the
    /// state machine taken now.
    pub fn applied_conf(&self) -> &ConfState {
        self.raft.applied_conf()
    }

    /// Term of the entry at `index`, if still in the log.
    pub fn term(&self, index: Index) -> Option<Term> {
        self.raft.log.term(index).ok()
    }

    pub fn store(&self) -> &S {
        &self.raft.log.store
    }

    pub fn store_mut(&mut self) -> &mut S {
        &mut self.raft.log.store
    }

    /// Gives back the storage (a crashed node's durable state).
    pub fn into_store(self) -> S {
        self.raft.log.store
    }

    /// The algorithm layer, for tests that inspect progress and flow control.
    pub fn raft(&self) -> &Raft<S> {
        &self.raft
    }
}
