//! The controller: the cluster metadata's Raft group (group 0, the KRaft
//! idea), one node of it per broker, on the broker's controller shard.
//! Voters elect a leader; other brokers follow as learners. The leader
//! turns metadata changes into log entries (batches of
//! [`MetadataRecord`](super::records::MetadataRecord)s); every node applies
//! the committed entries in order to its metadata image.
//!
//! This module drives a `consensus::RawNode` against the disk
//! ([`durable`]) and an [`Env`] that carries its messages to the other
//! nodes and its committed records to the image of every shard. It knows
//! nothing of shards or sockets.
//!
//! The driver's duties per `Ready`, in order (see `consensus/DESIGN.md`):
//! 1. install a snapshot (durably, then in the image);
//! 2. append the entries (storage log);
//! 3. write the hard state when term or vote changed (the commit index is
//!    written with it, lazily otherwise);
//! 4. fsync (`must_sync`), then send the messages;
//! 5. apply the committed entries to the image, in order, and answer the
//!    proposals they carry;
//! 6. `advance`.

pub mod durable;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use consensus::{
    ConfChange, ConfState, Entry, EntryKind, HardState, Index, MemStorage, Message, ProposeError,
    RawNode, Role, Snapshot, Storage, Term,
};
use glommio::channels::local_channel::{self, LocalSender};
use storage::notify::Signal;

use super::records::{decode_batch, encode_batch, MetadataRecord, NodeId, RecordError};
use crate::shard::mesh::LocalFuture;
use durable::DurableRaft;

/// The Raft group id of the controller.
pub const CONTROLLER_GROUP: consensus::GroupId = 0;

/// Raft reserves node id 0; Kafka node ids start at 0. Raft id = node id + 1.
pub fn raft_id(node_id: NodeId) -> consensus::NodeId {
    u64::try_from(node_id).expect("node ids are not negative") + 1
}

pub fn node_id_of(raft_id: consensus::NodeId) -> NodeId {
    assert!(raft_id > 0, "Raft id 0 is nobody");
    NodeId::try_from(raft_id - 1).expect("Raft ids come from node ids")
}

/// Why the controller failed (its disk), or a request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("controller log: {0}")]
    Log(#[source] storage::StorageError),
    #[error("controller state damaged: {0}")]
    Damaged(String),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("controller record: {0}")]
    Record(#[from] RecordError),
    /// This node's configured voters are not the cluster's.
    #[error("{0}")]
    Voters(String),
}

/// Why a proposal did not commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    /// This node does not lead; `leader` does (if known).
    #[error("not the controller leader (the leader is {leader:?})")]
    NotLeader { leader: Option<NodeId> },
    /// A new leader overwrote the entry before it committed.
    #[error("the proposal was lost in a leadership change")]
    Lost,
    #[error("the controller is busy (too many proposals waiting)")]
    Busy,
    #[error("the metadata change is too large for one log entry")]
    TooLarge,
    #[error("the controller is stopping")]
    Stopping,
}

impl From<ProposeError> for ProposalError {
    fn from(e: ProposeError) -> Self {
        match e {
            ProposeError::NotLeader { leader } => ProposalError::NotLeader {
                leader: (leader != 0).then(|| node_id_of(leader)),
            },
            ProposeError::TooLarge => ProposalError::TooLarge,
            // A new leader commits an entry of its term within one round
            // trip; a pending membership change within a few: the caller
            // retries, as after a leadership change.
            ProposeError::TransferInProgress
            | ProposeError::NotCommittedInTerm
            | ProposeError::ConfChangePending
            | ProposeError::ConfChangeRejected(_) => ProposalError::Lost,
            ProposeError::Backpressure => ProposalError::Busy,
        }
    }
}

/// What the controller needs from the rest of the broker.
pub trait Env {
    /// Sends Raft messages of the controller group to their nodes (by Raft
    /// id). Delivery is best effort: Raft retries what is lost.
    fn send(&self, messages: Vec<Message>);
    /// Applies the records of one committed entry, at `index`, to the
    /// metadata of every shard, in commit order; the future completes once
    /// every shard has applied them and run their side effects.
    fn apply(&self, index: Index, records: Vec<MetadataRecord>) -> LocalFuture<()>;
    /// Replaces every shard's metadata with the image `records` rebuild (an
    /// installed snapshot at `index`).
    fn reset(&self, index: Index, records: Vec<MetadataRecord>) -> LocalFuture<()>;
    /// The current image as records, for a snapshot at the applied index.
    fn image_records(&self) -> Vec<MetadataRecord>;
}

/// Timing of the controller group, in ticks of `tick_ms`.
#[derive(Debug, Clone)]
pub struct Timing {
    pub tick_ms: u64,
    pub election_ticks: u32,
    pub heartbeat_ticks: u32,
}

/// A proposal waiting for its entry to be applied.
struct Waiter {
    term: Term,
    answer: LocalSender<Result<Index, ProposalError>>,
}

/// The node's observable controller state (DescribeQuorum, metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumState {
    pub leader: Option<NodeId>,
    pub term: Term,
    pub role: Role,
    pub commit: Index,
    pub applied: Index,
    pub last_index: Index,
    pub voters: Vec<NodeId>,
    pub learners: Vec<NodeId>,
    /// Per member (leader only): the last index it is known to hold.
    pub match_index: Vec<(NodeId, Index)>,
}

pub struct Controller {
    node_id: NodeId,
    raft: RefCell<RawNode<MemStorage>>,
    durable: DurableRaft,
    timing: Timing,
    /// Wakes the driver: a message, proposal or membership change arrived.
    kick: Signal,
    waiters: RefCell<BTreeMap<Index, Waiter>>,
    /// The last index applied to the image (and answered).
    applied: Cell<Index>,
    /// Signalled after every applied entry, for [`Controller::wait_applied`].
    applied_signal: Signal,
    /// Entries applied since the last snapshot.
    since_snapshot: Cell<u64>,
    stopping: Cell<bool>,
}

impl Controller {
    /// Opens (recovering) the controller state under `dir`. A node listed in
    /// `initial_voters` that has never run bootstraps the group with them;
    /// any other node starts empty and learns the log from the leader.
    /// Returns the controller and the committed records to replay into the
    /// image before serving (from the snapshot, then the log).
    pub async fn open(
        node_id: NodeId,
        initial_voters: &[NodeId],
        dir: &std::path::Path,
        fsync: storage::FsyncPolicy,
        timing: Timing,
        shard_storage: &Rc<storage::ShardStorage>,
    ) -> Result<(Rc<Self>, Vec<(Index, Vec<MetadataRecord>)>), ControllerError> {
        let (durable, mut memory) = DurableRaft::open(dir, fsync, shard_storage).await?;
        let fresh = memory.last_index() == 0 && memory.first_index() == 1;
        if fresh && initial_voters.contains(&node_id) {
            let voters: Vec<_> = initial_voters.iter().map(|&n| raft_id(n)).collect();
            let bootstrap = MemStorage::bootstrap(&voters);
            let entries = bootstrap
                .entries(1, bootstrap.last_index() + 1, u64::MAX)
                .expect("bootstrap entries");
            durable.append(&entries).await?;
            durable.sync().await?;
            durable.write_hard_state(bootstrap.hard_state()).await?;
            memory = bootstrap;
        }
        // Replay what is committed: the snapshot's image, then the entries.
        let mut replay = Vec::new();
        let snapshot = memory.snapshot().expect("memory storage has one");
        if snapshot.meta.index > 0 {
            replay.push((snapshot.meta.index, decode_batch(&snapshot.data)?));
        }
        let commit = memory.hard_state().commit;
        let first = memory.first_index();
        if commit >= first {
            for entry in memory
                .entries(first, commit + 1, u64::MAX)
                .expect("committed entries are in memory")
            {
                if entry.kind == EntryKind::Normal && !entry.data.is_empty() {
                    replay.push((entry.index, decode_batch(&entry.data)?));
                }
            }
        }
        let mut config = consensus::Config::new(
            raft_id(node_id),
            // Distinct per node and per start: election timeouts differ.
            raft_id(node_id) ^ (std::process::id() as u64) << 20,
        );
        config.election_ticks = timing.election_ticks;
        config.heartbeat_ticks = timing.heartbeat_ticks;
        config.applied = commit.max(snapshot.meta.index);
        let raft = RawNode::new(&config, memory);
        let controller = Rc::new(Self {
            node_id,
            raft: RefCell::new(raft),
            durable,
            timing,
            kick: Signal::default(),
            waiters: RefCell::new(BTreeMap::new()),
            applied: Cell::new(config.applied),
            applied_signal: Signal::default(),
            since_snapshot: Cell::new(0),
            stopping: Cell::new(false),
        });
        // Alone in the group: no one else can elect it, and waiting a full
        // election timeout at every start would only delay serving.
        if controller.raft.borrow().conf().voters == [raft_id(node_id)] {
            controller.raft.borrow_mut().campaign();
        }
        Ok((controller, replay))
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// Feeds a Raft message of the controller group from another node.
    pub fn step(&self, message: Message) {
        self.raft.borrow_mut().step(message);
        self.kick.notify_all();
    }

    /// The current leader, if known.
    pub fn leader(&self) -> Option<NodeId> {
        let leader = self.raft.borrow().status().leader;
        (leader != 0).then(|| node_id_of(leader))
    }

    pub fn is_leader(&self) -> bool {
        self.raft.borrow().status().role == Role::Leader
    }

    pub fn applied(&self) -> Index {
        self.applied.get()
    }

    /// The voters of the group, as Kafka node ids.
    pub fn voters(&self) -> Vec<NodeId> {
        self.raft
            .borrow()
            .conf()
            .voters
            .iter()
            .map(|&r| node_id_of(r))
            .collect()
    }

    /// Whether `node_id` receives the controller's log (voter or learner).
    pub fn is_member(&self, node_id: NodeId) -> bool {
        self.raft.borrow().conf().contains(raft_id(node_id))
    }

    pub fn quorum_state(&self) -> QuorumState {
        let raft = self.raft.borrow();
        let status = raft.status();
        let conf: ConfState = raft.conf().clone();
        let match_index = conf
            .members()
            .map(|m| {
                let matched = if m == status.id {
                    status.last_index
                } else {
                    raft.raft().progress(m).map_or(0, |p| p.matched)
                };
                (node_id_of(m), matched)
            })
            .collect();
        QuorumState {
            leader: (status.leader != 0).then(|| node_id_of(status.leader)),
            term: status.term,
            role: status.role,
            commit: status.commit,
            applied: self.applied.get(),
            last_index: status.last_index,
            voters: conf.voters.iter().map(|&v| node_id_of(v)).collect(),
            learners: conf.learners.iter().map(|&l| node_id_of(l)).collect(),
            match_index,
        }
    }

    /// Proposes `records` as one entry, now (this fixes its place in the
    /// log). The future completes once the entry is committed and applied
    /// on this node, with its index.
    pub fn propose(
        &self,
        records: &[MetadataRecord],
    ) -> impl std::future::Future<Output = Result<Index, ProposalError>> + 'static {
        let proposed = self.start_proposal(records);
        async move {
            let receiver = proposed?;
            receiver
                .recv()
                .await
                .unwrap_or(Err(ProposalError::Stopping))
        }
    }

    fn start_proposal(
        &self,
        records: &[MetadataRecord],
    ) -> Result<local_channel::LocalReceiver<Result<Index, ProposalError>>, ProposalError> {
        if self.stopping.get() {
            return Err(ProposalError::Stopping);
        }
        let data = Bytes::from(encode_batch(records));
        let index = self.raft.borrow_mut().propose(data)?;
        let term = self.raft.borrow().status().term;
        let (answer, receiver) = local_channel::new_bounded(1);
        self.waiters
            .borrow_mut()
            .insert(index, Waiter { term, answer });
        self.kick.notify_all();
        Ok(receiver)
    }

    /// Adds `node_id` to the group as a learner (it then receives the log).
    pub fn add_learner(&self, node_id: NodeId) -> Result<(), ProposalError> {
        self.raft
            .borrow_mut()
            .propose_conf_change(ConfChange::AddLearner(raft_id(node_id)))?;
        self.kick.notify_all();
        Ok(())
    }

    /// Completes once this node has applied `index`.
    pub async fn wait_applied(&self, index: Index) -> Result<(), ProposalError> {
        while self.applied.get() < index {
            if self.stopping.get() {
                return Err(ProposalError::Stopping);
            }
            self.applied_signal.notified().await;
        }
        Ok(())
    }

    /// Runs the group until [`Controller::stop`]: ticks, and handles every
    /// `Ready`. A disk error stops the controller (the broker then stops).
    pub async fn run(self: Rc<Self>, env: Rc<dyn Env>) -> Result<(), ControllerError> {
        let tick = Duration::from_millis(self.timing.tick_ms);
        let mut next_tick = std::time::Instant::now() + tick;
        while !self.stopping.get() {
            let has_ready = self.raft.borrow().has_ready();
            if has_ready {
                self.handle_ready(&env).await?;
                continue;
            }
            let now = std::time::Instant::now();
            if now >= next_tick {
                self.raft.borrow_mut().tick();
                next_tick += tick;
                if next_tick < now {
                    // The shard was stalled for more than a tick: do not
                    // fire a burst of ticks (that would start elections).
                    next_tick = now + tick;
                }
                continue;
            }
            let kicked = self.kick.notified();
            futures_lite::future::or(kicked, glommio::timer::sleep(next_tick - now)).await;
        }
        self.fail_waiters(ProposalError::Stopping);
        self.durable.close().await
    }

    /// Stops the driver; waiting proposals answer `Stopping`.
    pub fn stop(&self) {
        self.stopping.set(true);
        self.kick.notify_all();
        self.applied_signal.notify_all();
    }

    async fn handle_ready(&self, env: &Rc<dyn Env>) -> Result<(), ControllerError> {
        let ready = self.raft.borrow_mut().ready();
        // 1. A snapshot from the leader replaces the image.
        if let Some(snapshot) = &ready.snapshot {
            self.install_snapshot(snapshot, env).await?;
        }
        // 2. Entries.
        if !ready.entries.is_empty() {
            self.durable.append(&ready.entries).await?;
            self.raft.borrow_mut().store_mut().append(&ready.entries);
        }
        // 3. Hard state: durable now if term or vote changed.
        if let Some(hard_state) = ready.hard_state {
            let before = self.raft.borrow().store().hard_state();
            if hard_state.term != before.term || hard_state.vote != before.vote {
                self.sync_then_write_hard_state(hard_state).await?;
            }
            self.raft
                .borrow_mut()
                .store_mut()
                .set_hard_state(hard_state);
        }
        // 4. Durable before anything depending on it is sent.
        if ready.must_sync && !ready.entries.is_empty() {
            self.durable.sync().await?;
        }
        if !ready.messages.is_empty() {
            env.send(ready.messages);
        }
        // 5. Apply.
        for entry in &ready.committed_entries {
            self.apply_entry(entry, env).await?;
        }
        self.raft.borrow_mut().advance();
        self.maybe_snapshot(env).await
    }

    async fn sync_then_write_hard_state(
        &self,
        hard_state: HardState,
    ) -> Result<(), ControllerError> {
        // The commit index in the file must not point past durable entries.
        self.durable.sync().await?;
        self.durable.write_hard_state(hard_state).await
    }

    async fn install_snapshot(
        &self,
        snapshot: &Snapshot,
        env: &Rc<dyn Env>,
    ) -> Result<(), ControllerError> {
        let index = snapshot.meta.index;
        let log_holds_it = self.raft.borrow().store().term(index).ok() == Some(snapshot.meta.term);
        self.durable
            .install_snapshot(snapshot, log_holds_it)
            .await?;
        let records = decode_batch(&snapshot.data)?;
        self.raft
            .borrow_mut()
            .store_mut()
            .apply_snapshot(snapshot.clone());
        env.reset(index, records).await;
        self.set_applied(index);
        self.since_snapshot.set(0);
        Ok(())
    }

    async fn apply_entry(&self, entry: &Entry, env: &Rc<dyn Env>) -> Result<(), ControllerError> {
        assert_eq!(
            entry.index,
            self.applied.get() + 1,
            "entries apply in order"
        );
        if entry.kind == EntryKind::Normal && !entry.data.is_empty() {
            match decode_batch(&entry.data) {
                Ok(records) => env.apply(entry.index, records).await,
                Err(RecordError::UnknownType(kind)) => {
                    // Written by a newer broker: applying the rest would
                    // leave this node's image silently different.
                    return Err(ControllerError::Record(RecordError::UnknownType(kind)));
                }
                Err(e) => return Err(ControllerError::Record(e)),
            }
        }
        let waiter = self.waiters.borrow_mut().remove(&entry.index);
        if let Some(waiter) = waiter {
            let answer = if waiter.term == entry.term {
                Ok(entry.index)
            } else {
                Err(ProposalError::Lost)
            };
            let _ = waiter.answer.try_send(answer);
        }
        self.set_applied(entry.index);
        self.since_snapshot.set(self.since_snapshot.get() + 1);
        Ok(())
    }

    fn set_applied(&self, index: Index) {
        self.applied.set(index);
        // Proposals at or below an applied index that were not answered were
        // overwritten and then compacted away.
        let mut waiters = self.waiters.borrow_mut();
        let stale: Vec<Index> = waiters.range(..=index).map(|(&i, _)| i).collect();
        for i in stale {
            let waiter = waiters.remove(&i).expect("listed above");
            let _ = waiter.answer.try_send(Err(ProposalError::Lost));
        }
        drop(waiters);
        self.applied_signal.notify_all();
    }

    /// Snapshots the image and compacts the log every
    /// [`crate::limits::CONTROLLER_SNAPSHOT_ENTRIES`] applied entries.
    async fn maybe_snapshot(&self, env: &Rc<dyn Env>) -> Result<(), ControllerError> {
        if self.since_snapshot.get() < crate::limits::CONTROLLER_SNAPSHOT_ENTRIES {
            return Ok(());
        }
        let index = self.applied.get();
        let conf = self.raft.borrow().raft().applied_conf().clone();
        let data = Bytes::from(encode_batch(&env.image_records()));
        self.raft
            .borrow_mut()
            .store_mut()
            .create_snapshot(index, conf, data);
        let snapshot = self.raft.borrow().store().snapshot().expect("just created");
        self.durable.write_snapshot(&snapshot).await?;
        self.since_snapshot.set(0);
        tracing::info!(index, "controller snapshot written");
        Ok(())
    }

    fn fail_waiters(&self, error: ProposalError) {
        for (_, waiter) in std::mem::take(&mut *self.waiters.borrow_mut()) {
            let _ = waiter.answer.try_send(Err(error));
        }
    }
}
