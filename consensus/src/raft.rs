//! The Raft algorithm for one group: roles, elections, replication, commit,
//! membership, snapshots, leadership transfer and read-index. Pure: it
//! queues messages and mutates its log; [`crate::RawNode`] turns that into
//! `Ready` values for the application.

use std::collections::VecDeque;

use rand::{rngs::SmallRng, Rng, SeedableRng};

use crate::limits;
use crate::log::RaftLog;
use crate::message::{Message, MessageBody};
use crate::progress::{Progress, ProgressState};
use crate::storage::{Storage, StorageError};
use crate::types::{
    ConfChange, ConfState, Entry, EntryKind, Index, NodeId, ReadState, Role, Snapshot, Term,
    NO_NODE,
};

/// Static configuration of one node in one group.
#[derive(Clone, Debug)]
pub struct Config {
    pub id: NodeId,
    /// A follower that hears nothing from a leader for a random number of
    /// ticks in `election_ticks..2*election_ticks` starts an election.
    pub election_ticks: u32,
    /// A leader sends heartbeats every `heartbeat_ticks` ticks.
    pub heartbeat_ticks: u32,
    /// Leader steps down if a quorum was silent for an election timeout, and
    /// followers that heard from a leader recently ignore vote requests.
    pub check_quorum: bool,
    /// Elections start with a pre-vote round that changes no term.
    pub pre_vote: bool,
    /// Index the application's state already reflects (from its snapshot).
    pub applied: Index,
    /// Seed of the election-timeout randomness; give every node and group a
    /// different one.
    pub seed: u64,
}

impl Config {
    pub fn new(id: NodeId, seed: u64) -> Config {
        Config {
            id,
            election_ticks: 10,
            heartbeat_ticks: 1,
            check_quorum: true,
            pre_vote: true,
            applied: 0,
            seed,
        }
    }

    fn validate(&self) {
        assert!(self.id != NO_NODE, "node id 0 is reserved");
        assert!(
            self.heartbeat_ticks >= 1 && self.election_ticks > self.heartbeat_ticks,
            "election_ticks must exceed heartbeat_ticks: {self:?}"
        );
    }
}

/// Why a proposal (or request) was not accepted. The caller retries
/// elsewhere or later; nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    #[error("not the leader (leader is {leader}, 0 if unknown)")]
    NotLeader { leader: NodeId },
    #[error("leadership transfer in progress")]
    TransferInProgress,
    #[error("too many proposals waiting to be persisted")]
    Backpressure,
    #[error("entry larger than limits::ENTRY_BYTES_MAX")]
    TooLarge,
    #[error("leader has not committed an entry in its term yet")]
    NotCommittedInTerm,
    #[error("another membership change is not committed yet")]
    ConfChangePending,
    #[error("membership change rejected: {0}")]
    ConfChangeRejected(&'static str),
}

struct PendingRead {
    /// Read-index round; a heartbeat acknowledgement for round `n` confirms
    /// every round up to `n`.
    round: u64,
    ctx: u64,
    index: Index,
    acks: Vec<NodeId>,
}

pub struct Raft<S> {
    pub(crate) id: NodeId,
    pub(crate) term: Term,
    pub(crate) vote: NodeId,
    pub(crate) leader: NodeId,
    pub(crate) role: Role,
    pub(crate) log: RaftLog<S>,
    /// Membership in force: the latest configuration in the log, committed or
    /// not (single-server changes take effect when appended).
    conf: ConfState,
    /// Membership as of `log.applied`.
    applied_conf: ConfState,
    /// Configuration entries above `log.applied`, ascending by index, with
    /// the membership each one produced.
    conf_history: Vec<(Index, ConfState)>,
    /// Leader only: one entry per member, sorted by id.
    progress: Vec<(NodeId, Progress)>,
    votes: Vec<(NodeId, bool)>,
    pub(crate) msgs: Vec<Message>,
    pub(crate) read_states: Vec<ReadState>,
    pending_reads: VecDeque<PendingRead>,
    read_round: u64,
    election_ticks: u32,
    heartbeat_ticks: u32,
    randomized_election_ticks: u32,
    election_elapsed: u32,
    heartbeat_elapsed: u32,
    check_quorum: bool,
    pre_vote: bool,
    pub(crate) lead_transferee: NodeId,
    /// Highest index the application confirmed durable on this node.
    persisted: Index,
    /// The commit index advanced since followers were last told. Followers
    /// learn it from one append each when the next `Ready` is cut, instead of
    /// one per acknowledgement that moved it (pipelining would multiply them).
    commit_broadcast_pending: bool,
    rng: SmallRng,
}

impl<S: Storage> Raft<S> {
    pub fn new(cfg: &Config, store: S) -> Raft<S> {
        cfg.validate();
        let (hard, snap_conf) = store.initial_state();
        let first = store.first_index();
        let last = store.last_index();
        let applied = cfg.applied.max(first - 1);
        // Anything applied was committed, even if a lazily written commit
        // index (see `Ready::must_sync`) was lost in a crash.
        let log = RaftLog::new(store, hard.commit.max(applied), applied);
        let mut raft = Raft {
            id: cfg.id,
            term: hard.term,
            vote: hard.vote,
            leader: NO_NODE,
            role: Role::Follower,
            log,
            conf: snap_conf.clone(),
            applied_conf: snap_conf,
            conf_history: Vec::new(),
            progress: Vec::new(),
            votes: Vec::new(),
            msgs: Vec::new(),
            read_states: Vec::new(),
            pending_reads: VecDeque::new(),
            read_round: 0,
            election_ticks: cfg.election_ticks,
            heartbeat_ticks: cfg.heartbeat_ticks,
            randomized_election_ticks: cfg.election_ticks,
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            check_quorum: cfg.check_quorum,
            pre_vote: cfg.pre_vote,
            lead_transferee: NO_NODE,
            persisted: last,
            commit_broadcast_pending: false,
            rng: SmallRng::seed_from_u64(cfg.seed),
        };
        // Rebuild the membership from configuration entries in the stored
        // tail; compaction keeps that tail short.
        let mut lo = first;
        while lo <= last {
            let batch = raft
                .log
                .entries(lo, last + 1, limits::APPEND_BYTES_MAX)
                .expect("stored entries are readable");
            lo += batch.len() as Index;
            raft.track_conf_entries(&batch);
        }
        raft.fold_applied_conf();
        raft.reset_randomized_election_ticks();
        raft
    }

    pub fn conf(&self) -> &ConfState {
        &self.conf
    }

    /// Membership as of the applied index: store it with a snapshot taken at
    /// that index.
    pub fn applied_conf(&self) -> &ConfState {
        &self.applied_conf
    }

    pub fn progress(&self, id: NodeId) -> Option<&Progress> {
        self.progress.iter().find(|(p, _)| *p == id).map(|(_, p)| p)
    }

    fn progress_mut(&mut self, id: NodeId) -> Option<&mut Progress> {
        self.progress
            .iter_mut()
            .find(|(p, _)| *p == id)
            .map(|(_, p)| p)
    }

    fn promotable(&self) -> bool {
        self.conf.is_voter(self.id)
    }

    fn reset_randomized_election_ticks(&mut self) {
        self.randomized_election_ticks = self
            .rng
            .gen_range(self.election_ticks..2 * self.election_ticks);
    }

    fn send(&mut self, to: NodeId, term: Term, body: MessageBody) {
        debug_assert!(to != self.id, "message to self");
        if self.msgs.len() >= limits::MESSAGES_MAX {
            return; // The caller is not draining Ready; messages are droppable.
        }
        self.msgs.push(Message {
            from: self.id,
            to,
            term,
            body,
        });
    }

    // ---- role changes ------------------------------------------------------

    fn reset(&mut self, term: Term) {
        if self.term != term {
            assert!(term > self.term, "term went back {} -> {term}", self.term);
            self.term = term;
            self.vote = NO_NODE;
        }
        self.leader = NO_NODE;
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.reset_randomized_election_ticks();
        self.lead_transferee = NO_NODE;
        self.votes.clear();
        self.progress = Vec::new();
        self.pending_reads = VecDeque::new();
    }

    fn become_follower(&mut self, term: Term, leader: NodeId) {
        self.reset(term);
        self.role = Role::Follower;
        self.leader = leader;
    }

    fn become_pre_candidate(&mut self) {
        assert!(self.role != Role::Leader, "leader cannot pre-campaign");
        // A pre-candidate keeps its term and vote: pre-vote changes nothing
        // durable, which is what makes a rejoining node harmless.
        self.role = Role::PreCandidate;
        self.leader = NO_NODE;
        self.votes.clear();
    }

    fn become_candidate(&mut self) {
        assert!(self.role != Role::Leader, "leader cannot campaign");
        self.reset(self.term + 1);
        self.vote = self.id;
        self.role = Role::Candidate;
    }

    fn become_leader(&mut self) {
        assert!(
            self.role == Role::Candidate,
            "only a candidate becomes leader"
        );
        assert!(
            self.promotable(),
            "leader {} not a voter in {:?}",
            self.id,
            self.conf
        );
        self.reset(self.term);
        self.role = Role::Leader;
        self.leader = self.id;
        let next = self.log.last_index() + 1;
        self.progress = self
            .conf
            .members()
            .map(|id| (id, Progress::new(next)))
            .collect();
        self.progress.sort_unstable_by_key(|(id, _)| *id);
        let persisted = self.persisted;
        let me = self.progress_mut(self.id).expect("leader is a member");
        me.matched = persisted;
        me.become_replicate();
        me.recent_active = true;
        // An empty entry of the new term: committing it commits everything
        // before it, and a read index needs a commit in the current term.
        let noop = Entry {
            term: self.term,
            index: next,
            kind: EntryKind::Normal,
            data: Default::default(),
        };
        self.append_as_leader(noop);
        self.broadcast_append();
    }

    // ---- time --------------------------------------------------------------

    pub fn tick(&mut self) {
        if self.role == Role::Leader {
            self.tick_leader();
        } else {
            self.election_elapsed = self.election_elapsed.saturating_add(1);
            if self.promotable() && self.election_elapsed >= self.randomized_election_ticks {
                self.election_elapsed = 0;
                self.campaign(false);
            }
        }
    }

    fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if self.election_elapsed >= self.election_ticks {
            self.election_elapsed = 0;
            if self.check_quorum && !self.quorum_recently_active() {
                self.become_follower(self.term, NO_NODE);
                return;
            }
            for (id, pr) in self.progress.iter_mut() {
                pr.recent_active = *id == self.id;
            }
            // A transfer that did not finish within an election timeout has
            // failed (target down or partitioned): accept proposals again.
            self.lead_transferee = NO_NODE;
        }
        if self.heartbeat_elapsed >= self.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.broadcast_heartbeat();
        }
    }

    fn quorum_recently_active(&self) -> bool {
        let active = self
            .conf
            .voters
            .iter()
            .filter(|v| self.progress(**v).is_some_and(|p| p.recent_active))
            .count();
        active >= self.conf.quorum()
    }

    // ---- elections ---------------------------------------------------------

    /// Starts an election now (used by leadership transfer and by tests that
    /// want a specific leader). Ignored by leaders and non-voters.
    pub fn campaign(&mut self, transfer: bool) {
        if self.role == Role::Leader || !self.promotable() {
            return;
        }
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        if self.pre_vote && !transfer {
            self.become_pre_candidate();
            self.votes.push((self.id, true));
            if self.tally_won() {
                self.become_candidate_and_request_votes(false);
                return;
            }
            let term = self.term + 1;
            for to in self.conf.voters.clone() {
                if to != self.id {
                    self.send(
                        to,
                        term,
                        MessageBody::PreVote {
                            last_index,
                            last_term,
                        },
                    );
                }
            }
        } else {
            self.become_candidate_and_request_votes(transfer);
        }
    }

    fn become_candidate_and_request_votes(&mut self, transfer: bool) {
        self.become_candidate();
        self.votes.push((self.id, true));
        if self.tally_won() {
            self.become_leader();
            return;
        }
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        for to in self.conf.voters.clone() {
            if to != self.id {
                self.send(
                    to,
                    self.term,
                    MessageBody::Vote {
                        last_index,
                        last_term,
                        transfer,
                    },
                );
            }
        }
    }

    fn tally_won(&self) -> bool {
        let granted = self
            .votes
            .iter()
            .filter(|(id, g)| *g && self.conf.is_voter(*id))
            .count();
        granted >= self.conf.quorum()
    }

    fn tally_lost(&self) -> bool {
        let rejected = self
            .votes
            .iter()
            .filter(|(id, g)| !*g && self.conf.is_voter(*id))
            .count();
        rejected > self.conf.voters.len().saturating_sub(self.conf.quorum())
    }

    fn record_vote(&mut self, from: NodeId, granted: bool) {
        if !self.votes.iter().any(|(id, _)| *id == from) {
            self.votes.push((from, granted));
        }
    }

    fn in_leader_lease(&self) -> bool {
        self.check_quorum && self.leader != NO_NODE && self.election_elapsed < self.election_ticks
    }

    // ---- message handling ----------------------------------------------------

    pub fn step(&mut self, m: Message) {
        if m.to != self.id || m.from == self.id || m.from == NO_NODE || m.term == Term::MAX {
            return; // Misrouted or absurd input is ignored, never trusted.
        }
        if m.term > self.term {
            match m.body {
                MessageBody::PreVote { .. }
                | MessageBody::Vote {
                    transfer: false, ..
                } if self.in_leader_lease() => {
                    // We heard from a live leader within the election timeout:
                    // the candidate is partitioned or removed; do not let it
                    // disrupt the group.
                    return;
                }
                // Neither a pre-vote nor a granted pre-vote changes any term.
                MessageBody::PreVote { .. } | MessageBody::PreVoteResponse { reject: false } => {}
                MessageBody::Append { .. }
                | MessageBody::Heartbeat { .. }
                | MessageBody::InstallSnapshot { .. } => self.become_follower(m.term, m.from),
                _ => {
                    // Raft §5.2: only hearing from a leader or granting a vote
                    // resets the election timer. Were a higher-term vote request
                    // to reset it, a node with a stale log and a fast clock could
                    // keep every up-to-date node from ever timing out.
                    let elapsed = self.election_elapsed;
                    self.become_follower(m.term, NO_NODE);
                    self.election_elapsed = elapsed;
                }
            }
        } else if m.term < self.term {
            match m.body {
                MessageBody::Append { .. } | MessageBody::Heartbeat { .. }
                    if self.check_quorum || self.pre_vote =>
                {
                    // A stale leader (e.g. just healed from a partition) would
                    // otherwise never learn of the new term, since pre-vote
                    // keeps us from raising ours over it: tell it.
                    self.send(
                        m.from,
                        self.term,
                        MessageBody::AppendResponse {
                            reject: false,
                            index: 0,
                            hint_index: 0,
                            hint_term: 0,
                        },
                    );
                }
                MessageBody::PreVote { .. } => self.send(
                    m.from,
                    self.term,
                    MessageBody::PreVoteResponse { reject: true },
                ),
                _ => {}
            }
            return;
        }

        match m.body {
            MessageBody::PreVote {
                last_index,
                last_term,
            } => {
                // Grant if we could vote for it in its next term.
                let grant = (m.term > self.term
                    || self.vote == m.from
                    || (self.vote == NO_NODE && self.leader == NO_NODE))
                    && !self.in_leader_lease()
                    && self.log.is_up_to_date(last_index, last_term);
                let term = if grant { m.term } else { self.term };
                self.send(
                    m.from,
                    term,
                    MessageBody::PreVoteResponse { reject: !grant },
                );
            }
            MessageBody::Vote {
                last_index,
                last_term,
                ..
            } => {
                let can_vote =
                    self.vote == m.from || (self.vote == NO_NODE && self.leader == NO_NODE);
                let grant = can_vote && self.log.is_up_to_date(last_index, last_term);
                if grant {
                    self.vote = m.from;
                    self.election_elapsed = 0;
                }
                self.send(
                    m.from,
                    self.term,
                    MessageBody::VoteResponse { reject: !grant },
                );
            }
            _ => match self.role {
                Role::Leader => self.step_leader(m),
                Role::Candidate | Role::PreCandidate => self.step_candidate(m),
                Role::Follower => self.step_follower(m),
            },
        }
    }

    fn step_candidate(&mut self, m: Message) {
        match m.body {
            MessageBody::Append { .. }
            | MessageBody::Heartbeat { .. }
            | MessageBody::InstallSnapshot { .. } => {
                self.become_follower(m.term, m.from);
                self.step_follower(m);
            }
            MessageBody::PreVoteResponse { reject } if self.role == Role::PreCandidate => {
                self.record_vote(m.from, !reject);
                if self.tally_won() {
                    self.become_candidate_and_request_votes(false);
                } else if self.tally_lost() {
                    self.become_follower(self.term, NO_NODE);
                }
            }
            MessageBody::VoteResponse { reject } if self.role == Role::Candidate => {
                self.record_vote(m.from, !reject);
                if self.tally_won() {
                    self.become_leader();
                } else if self.tally_lost() {
                    self.become_follower(self.term, NO_NODE);
                }
            }
            _ => {}
        }
    }

    fn step_follower(&mut self, m: Message) {
        match m.body {
            MessageBody::Append {
                prev_index,
                prev_term,
                commit,
                entries,
            } => {
                self.election_elapsed = 0;
                self.leader = m.from;
                self.handle_append(m.from, prev_index, prev_term, commit, entries);
            }
            MessageBody::Heartbeat { commit, read_ctx } => {
                self.election_elapsed = 0;
                self.leader = m.from;
                // The leader sends at most the follower's matched index, so
                // everything up to it is in our log and agrees with the leader.
                self.log.commit_to(commit.min(self.log.last_index()));
                self.send(
                    m.from,
                    self.term,
                    MessageBody::HeartbeatResponse { read_ctx },
                );
            }
            MessageBody::InstallSnapshot { snapshot } => {
                self.election_elapsed = 0;
                self.leader = m.from;
                self.handle_snapshot(m.from, snapshot);
            }
            MessageBody::TimeoutNow => self.campaign(true),
            _ => {}
        }
    }

    fn handle_append(
        &mut self,
        from: NodeId,
        prev_index: Index,
        prev_term: Term,
        commit: Index,
        entries: Vec<Entry>,
    ) {
        if prev_index < self.log.committed {
            // Everything up to our commit index agrees with any leader.
            let index = self.log.committed;
            self.accept_append(from, index);
            return;
        }
        if !entries_are_well_formed(prev_index, self.term, &entries) {
            return; // Corrupt or malicious input: drop it, the leader retries.
        }
        match self
            .log
            .maybe_append(prev_index, prev_term, commit, &entries)
        {
            Some(outcome) => {
                if let Some(from_index) = outcome.truncated_from {
                    self.untrack_conf_entries_from(from_index);
                }
                if let Some(from_index) = outcome.appended_from {
                    let skip = (from_index - entries[0].index) as usize;
                    self.track_conf_entries(&entries[skip..]);
                }
                let index = outcome.last_new;
                self.accept_append(from, index);
            }
            None => {
                let (hint_index, hint_term) = self.log.find_conflict_by_term(prev_index, prev_term);
                self.send(
                    from,
                    self.term,
                    MessageBody::AppendResponse {
                        reject: true,
                        index: prev_index,
                        hint_index,
                        hint_term,
                    },
                );
            }
        }
    }

    /// Tells the leader our log matches its own up to `index`.
    fn accept_append(&mut self, to: NodeId, index: Index) {
        self.send(
            to,
            self.term,
            MessageBody::AppendResponse {
                reject: false,
                index,
                hint_index: 0,
                hint_term: 0,
            },
        );
    }

    fn handle_snapshot(&mut self, from: NodeId, snapshot: Snapshot) {
        let meta = &snapshot.meta;
        if meta.index <= self.log.committed {
            let index = self.log.committed;
            self.accept_append(from, index);
            return;
        }
        if self.log.match_term(meta.index, meta.term) {
            // We already have the snapshot's last entry: just commit up to it.
            self.log.commit_to(meta.index);
        } else {
            self.conf = meta.conf.clone();
            self.applied_conf = meta.conf.clone();
            self.conf_history.clear();
            // Entries after the snapshot may be discarded with the old log:
            // only the snapshot's prefix is known durable (once installed).
            self.persisted = self.persisted.min(meta.index);
            self.log.restore(snapshot);
        }
        let index = self.log.committed;
        self.accept_append(from, index);
    }

    fn step_leader(&mut self, m: Message) {
        let from = m.from;
        if self.progress(from).is_none() {
            return; // Not (or no longer) a member.
        }
        if let MessageBody::AppendResponse { index, .. } = m.body {
            if index > self.log.last_index() {
                return; // Acknowledges entries we never sent: not a real answer.
            }
        }
        match m.body {
            MessageBody::AppendResponse {
                reject,
                index,
                hint_index,
                hint_term,
            } => {
                let pr = self.progress_mut(from).expect("checked above");
                pr.recent_active = true;
                if reject {
                    let probe_hint = if hint_term > 0 {
                        self.log.find_conflict_by_term(hint_index, hint_term).0
                    } else {
                        hint_index
                    };
                    let pr = self.progress_mut(from).expect("checked above");
                    if pr.maybe_decrease_to(index, probe_hint) {
                        self.send_append(from, true);
                    }
                    return;
                }
                let pr = self.progress_mut(from).expect("checked above");
                if !pr.maybe_update(index) {
                    return;
                }
                match pr.state {
                    ProgressState::Probe => pr.become_replicate(),
                    ProgressState::Snapshot if pr.matched >= pr.pending_snapshot => {
                        pr.become_probe();
                        pr.become_replicate();
                    }
                    _ => {}
                }
                if self.maybe_commit() {
                    self.commit_broadcast_pending = true;
                }
                // Keep the pipeline full (or finish a catch-up).
                while self.send_append(from, false) {}
                if from == self.lead_transferee
                    && self
                        .progress(from)
                        .is_some_and(|p| p.matched == self.log.last_index())
                {
                    self.send(from, self.term, MessageBody::TimeoutNow);
                }
            }
            MessageBody::HeartbeatResponse { read_ctx } => {
                let pr = self.progress_mut(from).expect("checked above");
                pr.recent_active = true;
                if pr.state == ProgressState::Snapshot {
                    pr.snapshot_wait += 1;
                    if pr.snapshot_wait > limits::SNAPSHOT_WAIT_HEARTBEATS_MAX {
                        pr.become_probe();
                    }
                } else {
                    pr.on_heartbeat_response();
                }
                let behind = pr.matched < self.log.last_index();
                if behind {
                    self.send_append(from, true);
                }
                if read_ctx != 0 && self.conf.is_voter(from) {
                    self.ack_reads(from, read_ctx);
                }
            }
            _ => {}
        }
    }

    // ---- replication ---------------------------------------------------------

    fn append_as_leader(&mut self, entry: Entry) {
        assert_eq!(entry.index, self.log.last_index() + 1);
        assert_eq!(entry.term, self.term);
        let conf_change = entry.kind == EntryKind::ConfChange;
        self.log.append(std::slice::from_ref(&entry));
        if conf_change {
            self.track_conf_entries(std::slice::from_ref(&entry));
        }
    }

    fn broadcast_append(&mut self) {
        for i in 0..self.progress.len() {
            let to = self.progress[i].0;
            if to != self.id {
                self.send_append(to, true);
            }
        }
    }

    /// Sends the next batch to `to` if flow control allows. `allow_empty`
    /// sends an entry-less append (a probe or commit update). Returns whether
    /// a message carrying entries was sent.
    fn send_append(&mut self, to: NodeId, allow_empty: bool) -> bool {
        let Some(pr) = self.progress(to) else {
            return false;
        };
        if pr.is_paused() {
            return false;
        }
        let next = pr.next;
        let prev_index = next - 1;
        let last = self.log.last_index();
        let prev_term = self.log.term(prev_index);
        let entries = prev_term
            .as_ref()
            .map_err(|e| *e)
            .and_then(|_| self.log.entries(next, last + 1, limits::APPEND_BYTES_MAX));
        let (prev_term, mut entries) = match (prev_term, entries) {
            (Ok(t), Ok(e)) => (t, e),
            (Err(StorageError::Compacted(_)), _) | (_, Err(StorageError::Compacted(_))) => {
                return self.send_snapshot(to)
            }
            (Err(e), _) | (_, Err(e)) => panic!("log read below last index failed: {e}"),
        };
        entries.truncate(limits::APPEND_ENTRIES_MAX);
        if entries.is_empty() && !allow_empty {
            return false;
        }
        let last_sent = entries.last().map(|e| e.index);
        let commit = self.log.committed;
        self.progress_mut(to)
            .expect("checked above")
            .sent_append(last_sent);
        self.send(
            to,
            self.term,
            MessageBody::Append {
                prev_index,
                prev_term,
                commit,
                entries,
            },
        );
        last_sent.is_some()
    }

    fn send_snapshot(&mut self, to: NodeId) -> bool {
        let snapshot = match self.log.snapshot() {
            Ok(s) => s,
            Err(StorageError::SnapshotTemporarilyUnavailable) => return false,
            Err(e) => panic!("snapshot unreadable: {e}"),
        };
        assert!(
            snapshot.data.len() as u64 <= limits::SNAPSHOT_DATA_BYTES_MAX,
            "snapshot data of {} bytes: store a reference, transfer bulk state out of band",
            snapshot.data.len()
        );
        self.progress_mut(to)
            .expect("member")
            .become_snapshot(snapshot.meta.index);
        self.send(to, self.term, MessageBody::InstallSnapshot { snapshot });
        false
    }

    fn broadcast_heartbeat(&mut self) {
        let read_ctx = self.pending_reads.back().map_or(0, |r| r.round);
        for i in 0..self.progress.len() {
            let (to, ref pr) = self.progress[i];
            if to == self.id {
                continue;
            }
            let commit = pr.matched.min(self.log.committed);
            self.send(to, self.term, MessageBody::Heartbeat { commit, read_ctx });
        }
    }

    /// Advances the commit index to the highest index stored on a quorum of
    /// voters, if that entry is from the current term (Raft §5.4.2: entries
    /// of earlier terms commit only indirectly).
    fn maybe_commit(&mut self) -> bool {
        let mut matched: Vec<Index> = self
            .conf
            .voters
            .iter()
            .map(|v| self.progress(*v).map_or(0, |p| p.matched))
            .collect();
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let quorum_index = matched[self.conf.quorum() - 1];
        if quorum_index > self.log.committed && self.log.term(quorum_index) == Ok(self.term) {
            self.log.commit_to(quorum_index);
            return true;
        }
        false
    }

    pub fn report_snapshot(&mut self, to: NodeId, ok: bool) {
        if self.role != Role::Leader {
            return;
        }
        if let Some(pr) = self.progress_mut(to) {
            if pr.state == ProgressState::Snapshot {
                // Success: probe right after the snapshot (the follower's
                // answer confirms or corrects that). Failure: probe from the
                // last known match, which sends a fresh snapshot if needed.
                pr.become_probe();
                if !ok {
                    pr.next = pr.matched + 1;
                }
            }
        }
    }

    pub fn report_unreachable(&mut self, to: NodeId) {
        if self.role != Role::Leader {
            return;
        }
        if let Some(pr) = self.progress_mut(to) {
            if pr.state == ProgressState::Replicate {
                pr.become_probe();
            }
        }
    }

    /// Tells followers about a commit index that advanced since the last
    /// call. `RawNode` calls it when it cuts a `Ready`.
    pub fn flush_commit_broadcast(&mut self) {
        if std::mem::take(&mut self.commit_broadcast_pending) && self.role == Role::Leader {
            self.broadcast_append();
        }
    }

    /// The application persisted entries through `index`/`term`.
    pub fn on_persisted(&mut self, index: Index, term: Term) {
        if self.log.term(index) != Ok(term) {
            return; // Overwritten meanwhile; a later Ready persists the new ones.
        }
        self.log.stable_to(index, term);
        self.persisted = self.persisted.max(index);
        if self.role == Role::Leader {
            let me = self.id;
            if let Some(pr) = self.progress_mut(me) {
                pr.maybe_update(index);
            }
            if self.maybe_commit() {
                self.commit_broadcast_pending = true;
            }
        }
    }

    pub fn on_snapshot_persisted(&mut self, index: Index) {
        self.log.stable_snapshot_to(index);
        self.persisted = self.persisted.max(index);
    }

    /// After a log truncation the durable index may point at replaced entries.
    fn clamp_persisted(&mut self, truncated_from: Index) {
        self.persisted = self.persisted.min(truncated_from - 1);
    }

    /// The application applied everything up to `index`.
    pub fn on_applied(&mut self, index: Index) {
        assert!(
            index <= self.log.committed,
            "applied {index} beyond commit {}",
            self.log.committed
        );
        self.log.applied = self.log.applied.max(index);
        self.fold_applied_conf();
    }

    // ---- proposals -----------------------------------------------------------

    fn check_can_propose(&self) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        if self.lead_transferee != NO_NODE {
            return Err(ProposeError::TransferInProgress);
        }
        if self.log.unstable_entries().len() >= limits::UNSTABLE_ENTRIES_MAX
            || self.log.unstable_bytes() >= limits::UNSTABLE_BYTES_MAX
        {
            return Err(ProposeError::Backpressure);
        }
        Ok(())
    }

    /// Appends `data` as a new entry; returns its index. Committed once a
    /// quorum stores it; the caller learns that from `Ready::committed_entries`.
    pub fn propose(&mut self, data: bytes::Bytes) -> Result<Index, ProposeError> {
        self.check_can_propose()?;
        if data.len() as u64 > limits::ENTRY_BYTES_MAX {
            return Err(ProposeError::TooLarge);
        }
        let index = self.log.last_index() + 1;
        self.append_as_leader(Entry {
            term: self.term,
            index,
            kind: EntryKind::Normal,
            data,
        });
        self.broadcast_append();
        Ok(index)
    }

    fn committed_in_current_term(&self) -> bool {
        self.log.term(self.log.committed) == Ok(self.term)
    }

    /// Proposes a single-server membership change. One at a time, and only
    /// after this leader committed an entry of its term (the fix to the
    /// single-server change protocol from Ongaro's 2015 raft-dev note).
    pub fn propose_conf_change(&mut self, change: ConfChange) -> Result<Index, ProposeError> {
        self.check_can_propose()?;
        if !self.committed_in_current_term() {
            return Err(ProposeError::NotCommittedInTerm);
        }
        if self
            .conf_history
            .last()
            .is_some_and(|(i, _)| *i > self.log.committed)
        {
            return Err(ProposeError::ConfChangePending);
        }
        match change {
            ConfChange::Remove(id) if id == self.id => {
                return Err(ProposeError::ConfChangeRejected(
                    "transfer leadership before removing the leader",
                ))
            }
            ConfChange::PromoteLearner(id) => {
                let matched = self.progress(id).map_or(0, |p| p.matched);
                if matched + limits::LEARNER_CATCH_UP_ENTRIES_MAX < self.log.last_index() {
                    return Err(ProposeError::ConfChangeRejected(
                        "learner has not caught up",
                    ));
                }
            }
            _ => {}
        }
        self.conf
            .apply(change)
            .map_err(ProposeError::ConfChangeRejected)?;
        let index = self.log.last_index() + 1;
        self.append_as_leader(Entry {
            term: self.term,
            index,
            kind: EntryKind::ConfChange,
            data: change.encode(),
        });
        self.broadcast_append();
        Ok(index)
    }

    /// Hands leadership to `to` once its log is complete.
    pub fn transfer_leader(&mut self, to: NodeId) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        if to == self.id || !self.conf.is_voter(to) || self.lead_transferee == to {
            return Ok(());
        }
        self.lead_transferee = to;
        self.election_elapsed = 0; // The transfer times out after one election timeout.
        if self
            .progress(to)
            .is_some_and(|p| p.matched == self.log.last_index())
        {
            self.send(to, self.term, MessageBody::TimeoutNow);
        } else {
            self.send_append(to, true);
        }
        Ok(())
    }

    /// Requests a linearizable read; answered through `read_states` once a
    /// quorum confirmed this node still leads.
    pub fn read_index(&mut self, ctx: u64) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        if !self.committed_in_current_term() {
            return Err(ProposeError::NotCommittedInTerm);
        }
        let index = self.log.committed;
        if self.conf.voters == [self.id] {
            self.read_states.push(ReadState { ctx, index });
            return Ok(());
        }
        if self.pending_reads.len() >= limits::PENDING_READS_MAX {
            return Err(ProposeError::Backpressure);
        }
        self.read_round += 1;
        self.pending_reads.push_back(PendingRead {
            round: self.read_round,
            ctx,
            index,
            acks: vec![self.id],
        });
        self.broadcast_heartbeat();
        Ok(())
    }

    fn ack_reads(&mut self, from: NodeId, round: u64) {
        for r in self
            .pending_reads
            .iter_mut()
            .take_while(|r| r.round <= round)
        {
            if !r.acks.contains(&from) {
                r.acks.push(from);
            }
        }
        let quorum = self.conf.quorum();
        while let Some(front) = self.pending_reads.front() {
            if front
                .acks
                .iter()
                .filter(|id| self.conf.is_voter(**id))
                .count()
                < quorum
            {
                break;
            }
            let r = self.pending_reads.pop_front().expect("front exists");
            self.read_states.push(ReadState {
                ctx: r.ctx,
                index: r.index,
            });
        }
    }

    // ---- membership ------------------------------------------------------------

    /// Applies configuration entries (already in the log) to the membership
    /// in force; invalid changes are no-ops on every node alike.
    fn track_conf_entries(&mut self, entries: &[Entry]) {
        for e in entries.iter().filter(|e| e.kind == EntryKind::ConfChange) {
            assert!(
                self.conf_history.last().is_none_or(|(i, _)| *i < e.index),
                "configuration entries out of order"
            );
            let next = ConfChange::decode(&e.data)
                .and_then(|c| self.conf.apply(c).ok())
                .unwrap_or_else(|| self.conf.clone());
            self.conf_history.push((e.index, next.clone()));
            self.set_conf(next);
        }
    }

    /// Entries from `index` on were replaced: forget their configurations.
    fn untrack_conf_entries_from(&mut self, index: Index) {
        self.clamp_persisted(index);
        if self.conf_history.last().is_none_or(|(i, _)| *i < index) {
            return;
        }
        self.conf_history.retain(|(i, _)| *i < index);
        let conf = self
            .conf_history
            .last()
            .map_or_else(|| self.applied_conf.clone(), |(_, c)| c.clone());
        self.set_conf(conf);
    }

    fn set_conf(&mut self, conf: ConfState) {
        self.conf = conf;
        if self.role != Role::Leader {
            return;
        }
        assert!(
            self.conf.is_voter(self.id),
            "leader removed itself: {:?}",
            self.conf
        );
        let next = self.log.last_index() + 1;
        self.progress.retain(|(id, _)| self.conf.contains(*id));
        for id in self.conf.members() {
            if let Err(pos) = self.progress.binary_search_by_key(&id, |(p, _)| *p) {
                let mut pr = Progress::new(next);
                pr.recent_active = true;
                self.progress.insert(pos, (id, pr));
            }
        }
        if self.maybe_commit() {
            self.commit_broadcast_pending = true;
        }
    }

    fn fold_applied_conf(&mut self) {
        let applied = self.log.applied;
        let folded = self
            .conf_history
            .iter()
            .take_while(|(i, _)| *i <= applied)
            .count();
        if folded > 0 {
            self.applied_conf = self.conf_history[folded - 1].1.clone();
            self.conf_history.drain(..folded);
        }
    }

    // ---- observation -------------------------------------------------------------

    pub fn pending_read_count(&self) -> usize {
        self.pending_reads.len()
    }
}

/// An append's entries must follow `prev_index` contiguously, with terms
/// that never decrease and never exceed the leader's.
fn entries_are_well_formed(prev_index: Index, leader_term: Term, entries: &[Entry]) -> bool {
    let contiguous = entries
        .iter()
        .enumerate()
        .all(|(i, e)| e.index.checked_sub(prev_index) == Some(1 + i as Index));
    let terms_ordered = entries.windows(2).all(|w| w[0].term <= w[1].term)
        && entries.last().is_none_or(|e| e.term <= leader_term);
    contiguous && terms_ordered
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{bootstrap_entries, MemStorage};
    use crate::types::HardState;

    fn entry(term: Term, index: Index) -> Entry {
        Entry {
            term,
            index,
            kind: EntryKind::Normal,
            data: bytes::Bytes::from_static(b"e"),
        }
    }

    /// Node 1 of group {1,2,3} (plus `extra` entries after the bootstrap),
    /// elected leader in term `term` by votes from 2 and 3.
    fn leader_with(extra: &[Entry], term: Term) -> Raft<MemStorage> {
        let mut store = MemStorage::bootstrap(&[1, 2, 3]);
        store.append(extra);
        store.set_hard_state(HardState {
            term: term - 1,
            vote: 0,
            commit: 6,
        });
        let mut cfg = Config::new(1, 42);
        cfg.pre_vote = false;
        let mut r = Raft::new(&cfg, store);
        r.campaign(false);
        assert_eq!(r.term, term);
        for from in [2, 3] {
            r.step(Message {
                from,
                to: 1,
                term,
                body: MessageBody::VoteResponse { reject: false },
            });
        }
        assert_eq!(r.role, Role::Leader);
        r.msgs.clear();
        r
    }

    /// What the application does with a Ready's entries.
    fn persist(r: &mut Raft<MemStorage>) {
        let entries = r.log.unstable_entries().to_vec();
        r.log.store.append(&entries);
        let last = entries.last().expect("something to persist");
        r.on_persisted(last.index, last.term);
    }

    fn ack(r: &mut Raft<MemStorage>, from: NodeId, index: Index) {
        let term = r.term;
        r.step(Message {
            from,
            to: 1,
            term,
            body: MessageBody::AppendResponse {
                reject: false,
                index,
                hint_index: 0,
                hint_term: 0,
            },
        });
    }

    #[test]
    fn entries_of_earlier_terms_commit_only_with_one_of_the_current_term() {
        // Entry 7 is from term 2; node 1 leads term 4 and appended 4/8.
        let mut r = leader_with(&[entry(2, 7)], 4);
        assert_eq!(r.log.last_index(), 8);
        ack(&mut r, 2, 7);
        ack(&mut r, 3, 7);
        // 7 is on all three nodes, but counting replicas of a term-2 entry
        // is not enough (Raft §5.4.2, figure 8).
        assert_eq!(r.log.committed, 6);
        ack(&mut r, 2, 8);
        assert_eq!(
            r.log.committed, 6,
            "the leader has not persisted 8 itself yet"
        );
        persist(&mut r);
        assert_eq!(
            r.log.committed, 8,
            "4/8 on a quorum commits it and 2/7 with it"
        );
    }

    #[test]
    fn appends_in_flight_to_one_follower_are_bounded() {
        let mut r = leader_with(&[], 2);
        ack(&mut r, 2, 7);
        ack(&mut r, 3, 7);
        r.msgs.clear();
        for _ in 0..limits::INFLIGHT_APPENDS_MAX + 10 {
            r.propose(bytes::Bytes::from_static(b"p")).unwrap();
        }
        let to_2 = r
            .msgs
            .iter()
            .filter(|m| m.to == 2 && matches!(m.body, MessageBody::Append { .. }))
            .count();
        assert_eq!(to_2, limits::INFLIGHT_APPENDS_MAX);
        assert!(r.progress(2).unwrap().is_paused());
        // One acknowledgement frees room; the rest goes out in one batch.
        r.msgs.clear();
        ack(&mut r, 2, 8);
        let resent: Vec<&Message> = r.msgs.iter().filter(|m| m.to == 2).collect();
        assert_eq!(resent.len(), 1);
        let MessageBody::Append { entries, .. } = &resent[0].body else {
            panic!("expected an append")
        };
        assert_eq!(
            entries.first().unwrap().index,
            8 + limits::INFLIGHT_APPENDS_MAX as Index
        );
        assert_eq!(entries.last().unwrap().index, r.log.last_index());
    }

    #[test]
    fn a_learner_far_behind_is_not_promoted() {
        let mut extra = vec![Entry {
            term: 1,
            index: 7,
            kind: EntryKind::ConfChange,
            data: ConfChange::AddLearner(4).encode(),
        }];
        extra.extend((8..8 + limits::LEARNER_CATCH_UP_ENTRIES_MAX + 10).map(|i| entry(1, i)));
        let mut r = leader_with(&extra, 2);
        assert!(r.conf().is_learner(4));
        let last = r.log.last_index();
        ack(&mut r, 2, last);
        persist(&mut r);
        assert_eq!(r.log.committed, last);
        assert_eq!(
            r.propose_conf_change(ConfChange::PromoteLearner(4)),
            Err(ProposeError::ConfChangeRejected(
                "learner has not caught up"
            ))
        );
        ack(&mut r, 4, last - 5);
        assert!(r.propose_conf_change(ConfChange::PromoteLearner(4)).is_ok());
        assert!(r.conf().is_voter(4), "a change takes effect when appended");
    }

    #[test]
    fn bootstrap_membership_is_rebuilt_from_the_log_on_restart() {
        let store = MemStorage::bootstrap(&[3, 1, 2]);
        assert_eq!(bootstrap_entries(&[1, 2, 3]).len(), 6);
        let r = Raft::new(&Config::new(2, 1), store);
        assert_eq!(r.conf().voters, vec![1, 2, 3]);
        assert_eq!(r.log.committed, 6);
    }
}

#[cfg(test)]
mod snapshot_tests {
    use super::*;
    use crate::storage::MemStorage;

    /// Leader 1 of {1,2,3} with its log compacted through 7, and follower 2
    /// (empty log) in snapshot state.
    fn leader_sending_snapshot() -> Raft<MemStorage> {
        let mut cfg = Config::new(1, 7);
        cfg.pre_vote = false;
        let mut r = Raft::new(&cfg, MemStorage::bootstrap(&[1, 2, 3]));
        r.campaign(false);
        for from in [2, 3] {
            r.step(Message {
                from,
                to: 1,
                term: 2,
                body: MessageBody::VoteResponse { reject: false },
            });
        }
        let entries = r.log.unstable_entries().to_vec();
        r.log.store.append(&entries);
        r.on_persisted(7, 2);
        r.step(Message {
            from: 3,
            to: 1,
            term: 2,
            body: MessageBody::AppendResponse {
                reject: false,
                index: 7,
                hint_index: 0,
                hint_term: 0,
            },
        });
        assert_eq!(r.log.committed, 7);
        r.on_applied(7);
        let conf = r.applied_conf().clone();
        r.log
            .store
            .create_snapshot(7, conf, bytes::Bytes::from_static(b"state"));
        r.msgs.clear();
        // Node 2 lost its log: it rejects the probe after 6 with an empty hint.
        r.step(Message {
            from: 2,
            to: 1,
            term: 2,
            body: MessageBody::AppendResponse {
                reject: true,
                index: 6,
                hint_index: 0,
                hint_term: 0,
            },
        });
        assert!(r
            .msgs
            .iter()
            .any(|m| m.to == 2 && matches!(m.body, MessageBody::InstallSnapshot { .. })));
        assert_eq!(r.progress(2).unwrap().state, ProgressState::Snapshot);
        r
    }

    #[test]
    fn a_failed_snapshot_transfer_is_retried_from_the_last_match() {
        let mut r = leader_sending_snapshot();
        r.report_snapshot(2, false);
        let pr = r.progress(2).unwrap();
        assert_eq!((pr.state, pr.next), (ProgressState::Probe, 1));
        r.msgs.clear();
        r.step(Message {
            from: 2,
            to: 1,
            term: 2,
            body: MessageBody::HeartbeatResponse { read_ctx: 0 },
        });
        assert!(
            r.msgs
                .iter()
                .any(|m| matches!(m.body, MessageBody::InstallSnapshot { .. })),
            "resent"
        );
    }

    #[test]
    fn a_delivered_snapshot_resumes_replication_after_it() {
        let mut r = leader_sending_snapshot();
        r.report_snapshot(2, true);
        let pr = r.progress(2).unwrap();
        assert_eq!((pr.state, pr.next), (ProgressState::Probe, 8));
    }
}

#[cfg(test)]
mod hostile_input_tests {
    use super::*;
    use crate::storage::MemStorage;
    use proptest::prelude::*;

    fn arb_body() -> impl Strategy<Value = MessageBody> {
        let idx = prop_oneof![6 => 0..40u64, 1 => Just(u64::MAX), 1 => Just(u64::MAX - 1), 1 => any::<u64>()];
        (0..10u8, idx.clone(), idx.clone(), idx, any::<bool>()).prop_map(|(kind, a, b, c, flag)| {
            match kind {
                0 => MessageBody::PreVote {
                    last_index: a,
                    last_term: b,
                },
                1 => MessageBody::PreVoteResponse { reject: flag },
                2 => MessageBody::Vote {
                    last_index: a,
                    last_term: b,
                    transfer: flag,
                },
                3 => MessageBody::VoteResponse { reject: flag },
                4 => MessageBody::Append {
                    prev_index: a,
                    prev_term: b,
                    commit: c,
                    entries: (0..(c % 4))
                        .map(|i| Entry {
                            term: b,
                            index: a.wrapping_add(1 + i),
                            kind: EntryKind::Normal,
                            data: Default::default(),
                        })
                        .collect(),
                },
                5 => MessageBody::AppendResponse {
                    reject: flag,
                    index: a,
                    hint_index: b,
                    hint_term: c,
                },
                6 => MessageBody::Heartbeat {
                    commit: a,
                    read_ctx: b,
                },
                7 => MessageBody::HeartbeatResponse { read_ctx: a },
                8 => MessageBody::TimeoutNow,
                _ => MessageBody::InstallSnapshot {
                    snapshot: Snapshot {
                        meta: crate::types::SnapshotMeta {
                            index: a % 64,
                            term: b % 8,
                            conf: ConfState::new(vec![1, 2, 3], vec![]),
                        },
                        data: Default::default(),
                    },
                },
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

        /// Whatever peers send, a node (leader or follower) never panics and
        /// keeps its invariants; the application keeps persisting its Readys.
        #[test]
        fn hostile_messages_never_panic(leader in any::<bool>(), msgs in proptest::collection::vec((1..6u64, prop_oneof![9 => 1..4u64, 1 => any::<u64>()], arb_body()), 1..40)) {
            let mut cfg = Config::new(1, 3);
            cfg.pre_vote = false;
            let mut node = crate::RawNode::new(&cfg, MemStorage::bootstrap(&[1, 2, 3]));
            if leader {
                node.campaign();
                for from in [2, 3] {
                    node.step(Message { from, to: 1, term: 2, body: MessageBody::VoteResponse { reject: false } });
                }
            }
            for (from, term, body) in msgs {
                node.step(Message { from, to: 1, term, body });
                let _ = node.propose(bytes::Bytes::from_static(b"x"));
                node.tick();
                let ready = node.ready();
                if let Some(s) = &ready.snapshot {
                    node.store_mut().apply_snapshot(s.clone());
                }
                node.store_mut().append(&ready.entries);
                if let Some(hs) = ready.hard_state {
                    node.store_mut().set_hard_state(hs);
                }
                node.advance();
                let st = node.status();
                prop_assert!(st.applied <= st.commit && st.commit <= st.last_index);
            }
        }
    }
}
