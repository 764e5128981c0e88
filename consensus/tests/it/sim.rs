//! A seeded, single-threaded cluster simulator for one Raft group.
//!
//! Everything random comes from one ChaCha stream seeded by the test, so a
//! seed replays exactly. Time advances in steps; each node ticks every few
//! steps at its own speed. Messages go through the real wire codec, and the
//! network drops, duplicates, delays (hence reorders) and partitions them.
//! Persisting a `Ready` takes a random number of steps; a crash in between
//! loses it, and everything else not in the node's `MemStorage`.

use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use bytes::Bytes;
use consensus::wire::{self, Envelope};
use consensus::{
    ConfChange, Config, Entry, EntryKind, Index, MemStorage, Message, NodeId, ProposeError,
    RawNode, Role, Storage, Term,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How hostile the run is.
#[derive(Clone, Debug)]
pub struct SimOptions {
    pub voters: usize,
    /// Nodes that start outside the group and may be added as learners.
    pub spares: usize,
    /// Steps with faults; then faults stop and liveness is checked.
    pub fault_steps: u64,
    /// Steps allowed, after faults stop, for the group to converge.
    pub liveness_steps_max: u64,
    pub drop_per_mille: u32,
    pub duplicate_per_mille: u32,
    pub delay_steps_max: u64,
    /// Per-step probability (per mille) of each kind of scheduled event.
    pub crash_per_mille: u32,
    pub partition_per_mille: u32,
    pub membership_per_mille: u32,
    pub transfer_per_mille: u32,
    pub propose_per_mille: u32,
    pub payload_bytes: usize,
    /// Take a snapshot and compact once this many entries are applied.
    pub compact_after_entries: u64,
    /// Pass every message through the wire codec.
    pub use_wire: bool,
    pub pre_vote: bool,
    pub check_quorum: bool,
    /// Leaders send appends before persisting their own entries.
    pub early_appends: bool,
    /// Persisting a Ready takes up to this many steps (a slow disk widens
    /// every window in which a crash loses state).
    pub persist_steps_max: u64,
    /// Draw delays, tick speeds and the pre-vote/check-quorum switches from
    /// the seed, so the batch covers many timing regimes.
    pub vary: bool,
}

impl SimOptions {
    pub fn chaos(voters: usize) -> SimOptions {
        SimOptions {
            voters,
            spares: 1,
            fault_steps: 1500,
            liveness_steps_max: 2000,
            drop_per_mille: 50,
            duplicate_per_mille: 20,
            delay_steps_max: 4,
            crash_per_mille: 3,
            partition_per_mille: 3,
            membership_per_mille: 4,
            transfer_per_mille: 2,
            propose_per_mille: 150,
            payload_bytes: 16,
            compact_after_entries: 24,
            use_wire: true,
            pre_vote: true,
            check_quorum: true,
            early_appends: false,
            persist_steps_max: 2,
            vary: true,
        }
    }

    /// No faults at all: for benchmarks.
    pub fn calm(voters: usize, payload_bytes: usize) -> SimOptions {
        SimOptions {
            voters,
            spares: 0,
            fault_steps: 0,
            liveness_steps_max: 0,
            drop_per_mille: 0,
            duplicate_per_mille: 0,
            delay_steps_max: 1,
            crash_per_mille: 0,
            partition_per_mille: 0,
            membership_per_mille: 0,
            transfer_per_mille: 0,
            propose_per_mille: 0,
            payload_bytes,
            compact_after_entries: 256,
            use_wire: true,
            pre_vote: true,
            check_quorum: true,
            early_appends: false,
            persist_steps_max: 0,
            vary: false,
        }
    }
}

const ELECTION_TICKS: u32 = 10;
const HEARTBEAT_TICKS: u32 = 2;
/// Steps a client waits for a proposal to commit before proposing it again.
const CLIENT_RETRY_STEPS: u64 = 200;

/// The replicated state machine: a hash chain over applied entries, so two
/// nodes agree on the hash at an index only if they applied the same entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct StateMachine {
    applied: Index,
    hash: u64,
}

impl StateMachine {
    fn apply(&mut self, e: &Entry) {
        assert_eq!(e.index, self.applied + 1, "applied out of order");
        self.applied = e.index;
        let mut h = self.hash ^ 0x9e37_79b9_7f4a_7c15;
        for chunk in e.data.chunks(8).take(4) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x100_0000_01b3);
        }
        h = (h ^ e.data.len() as u64 ^ ((e.kind == EntryKind::ConfChange) as u64) << 63)
            .wrapping_mul(0x100_0000_01b3);
        self.hash = h;
    }

    fn encode(&self) -> Bytes {
        let mut v = self.applied.to_le_bytes().to_vec();
        v.extend_from_slice(&self.hash.to_le_bytes());
        Bytes::from(v)
    }

    fn decode(data: &[u8]) -> StateMachine {
        if data.is_empty() {
            return StateMachine::default();
        }
        StateMachine {
            applied: u64::from_le_bytes(data[..8].try_into().unwrap()),
            hash: u64::from_le_bytes(data[8..16].try_into().unwrap()),
        }
    }
}

struct Pending {
    ready: consensus::Ready,
    done_at: u64,
}

struct Node {
    id: NodeId,
    raw: Option<RawNode<MemStorage>>,
    /// Durable state while crashed.
    crashed_store: Option<MemStorage>,
    restart_at: u64,
    pending: Option<Pending>,
    sm: StateMachine,
    tick_every_steps: u64,
    boots: u64,
}

#[derive(PartialEq, Eq)]
struct InFlight {
    deliver_at: u64,
    seq: u64,
    from: NodeId,
    to: NodeId,
    frame: Bytes,
    msg: Option<Message>,
}

impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.deliver_at, other.seq).cmp(&(self.deliver_at, self.seq))
    }
}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// What the checkers know about the cluster's history.
#[derive(Default)]
struct Checker {
    leader_of_term: HashMap<Term, NodeId>,
    /// Every entry ever persisted anywhere: (index, term) -> (data, prev term).
    persisted: HashMap<(Index, Term), (Bytes, Term)>,
    /// Every applied entry: index -> (term, data, state-machine hash after it).
    applied: BTreeMap<Index, (Term, Bytes, u64)>,
    /// Entries leaders committed: index -> (entry term, term of the leader
    /// that first committed it).
    committed: BTreeMap<Index, (Term, Term)>,
    /// Highest commit index recorded per leader term.
    leader_commit_seen: HashMap<Term, Index>,
    /// (node, term) pairs already checked for leader completeness.
    leaders_checked: HashSet<(NodeId, Term)>,
}

pub struct Stats {
    pub steps: u64,
    pub committed_proposals: u64,
    pub leader_changes: u64,
    pub crashes: u64,
    pub snapshots_sent: u64,
    pub conf_changes: u64,
}

pub struct Sim {
    pub opts: SimOptions,
    seed: u64,
    rng: ChaCha8Rng,
    now: u64,
    nodes: Vec<Node>,
    net: BinaryHeap<InFlight>,
    net_seq: u64,
    /// Directed links that drop everything, with the step they heal at.
    cut: HashMap<(NodeId, NodeId), u64>,
    checker: Checker,
    /// Client proposals not yet seen committed: id -> step last proposed.
    outstanding: BTreeMap<u64, u64>,
    next_proposal: u64,
    acked: HashSet<u64>,
    /// Read-index requests in flight: ctx -> highest index known committed
    /// (applied somewhere) when the read was requested.
    reads: HashMap<u64, Index>,
    next_read: u64,
    pub reads_served: u64,
    faults_on: bool,
    pub stats: Stats,
    pub trace: Vec<String>,
    /// `SIM_VERBOSE=1`: trace every delivered message.
    verbose: bool,
}

fn member_ids(n: usize) -> Vec<NodeId> {
    (1..=n as NodeId).collect()
}

impl Sim {
    pub fn new(seed: u64, mut opts: SimOptions) -> Sim {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut tick_every_max = 5;
        if opts.vary {
            opts.delay_steps_max = rng.gen_range(1..=12);
            opts.pre_vote = rng.gen_bool(0.7);
            opts.check_quorum = rng.gen_bool(0.7);
            opts.early_appends = rng.gen_bool(0.5);
            opts.persist_steps_max = rng.gen_range(0..=8);
            tick_every_max = rng.gen_range(3..=6);
            opts.drop_per_mille = rng.gen_range(0..=200);
            opts.duplicate_per_mille = rng.gen_range(0..=60);
            opts.crash_per_mille = rng.gen_range(1..=8);
            opts.partition_per_mille = rng.gen_range(1..=8);
            opts.compact_after_entries = rng.gen_range(8..=64);
        }
        let total = opts.voters + opts.spares;
        let mut nodes = Vec::new();
        for id in 1..=total as NodeId {
            let store = if (id as usize) <= opts.voters {
                MemStorage::bootstrap(&member_ids(opts.voters))
            } else {
                MemStorage::default()
            };
            let tick_every_steps = rng.gen_range(2..=tick_every_max);
            let mut node = Node {
                id,
                raw: None,
                crashed_store: Some(store),
                restart_at: 0,
                pending: None,
                sm: StateMachine::default(),
                tick_every_steps,
                boots: 0,
            };
            Self::boot(&mut node, seed, &opts);
            nodes.push(node);
        }
        let faults_on = opts.fault_steps > 0;
        Sim {
            opts,
            seed,
            rng,
            now: 0,
            nodes,
            net: BinaryHeap::new(),
            net_seq: 0,
            cut: HashMap::new(),
            checker: Checker::default(),
            outstanding: BTreeMap::new(),
            next_proposal: 1,
            acked: HashSet::new(),
            reads: HashMap::new(),
            next_read: 1,
            reads_served: 0,
            faults_on,
            stats: Stats {
                steps: 0,
                committed_proposals: 0,
                leader_changes: 0,
                crashes: 0,
                snapshots_sent: 0,
                conf_changes: 0,
            },
            trace: Vec::new(),
            verbose: std::env::var("SIM_VERBOSE").is_ok(),
        }
    }

    fn boot(node: &mut Node, seed: u64, opts: &SimOptions) {
        let store = node.crashed_store.take().expect("booting a running node");
        let snap = store.snapshot().expect("memory snapshot");
        node.sm = StateMachine::decode(&snap.data);
        assert_eq!(
            node.sm.applied, snap.meta.index,
            "snapshot data disagrees with its index"
        );
        let mut cfg = Config::new(node.id, seed ^ (node.id << 48) ^ (node.boots << 40));
        cfg.election_ticks = ELECTION_TICKS;
        cfg.heartbeat_ticks = HEARTBEAT_TICKS;
        cfg.applied = node.sm.applied;
        cfg.pre_vote = opts.pre_vote;
        cfg.check_quorum = opts.check_quorum;
        node.raw = Some(RawNode::new(&cfg, store));
        node.boots += 1;
    }

    fn fail(&self, what: String) -> ! {
        let o = &self.opts;
        let regime = format!(
            "delay<={} drop={}/1000 dup={}/1000 crash={}/1000 partition={}/1000 compact={} pre_vote={} check_quorum={} early_appends={} persist<={}",
            o.delay_steps_max, o.drop_per_mille, o.duplicate_per_mille, o.crash_per_mille, o.partition_per_mille, o.compact_after_entries, o.pre_vote, o.check_quorum, o.early_appends, o.persist_steps_max
        );
        let tail: Vec<&String> = self
            .trace
            .iter()
            .rev()
            .take(if self.verbose { 400 } else { 40 })
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        panic!("seed {} step {} ({regime}): {what}\nlast events:\n{}\nreplay: SEED={} cargo test -p consensus --test it {}", self.seed, self.now, tail.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"), self.seed, if self.opts.voters == 3 { "sim_three_voters" } else { "sim_five_voters" })
    }

    fn note(&mut self, s: String) {
        if self.trace.len() >= 4096 {
            self.trace.drain(..2048);
        }
        self.trace.push(format!("[{}] {s}", self.now));
    }

    pub fn leader(&self) -> Option<NodeId> {
        let mut best: Option<(Term, NodeId)> = None;
        for n in &self.nodes {
            if let Some(raw) = &n.raw {
                let st = raw.status();
                if st.role == Role::Leader && best.is_none_or(|(t, _)| st.term > t) {
                    best = Some((st.term, n.id));
                }
            }
        }
        best.map(|(_, id)| id)
    }

    fn node(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id as usize - 1]
    }

    /// One step of simulated time.
    pub fn step(&mut self) {
        self.now += 1;
        self.stats.steps += 1;
        if self.faults_on {
            self.schedule_faults();
        }
        self.restart_due();
        self.heal_due();
        for i in 0..self.nodes.len() {
            let n = &mut self.nodes[i];
            if let Some(raw) = &mut n.raw {
                if self.now % n.tick_every_steps == 0 {
                    raw.tick();
                }
            }
        }
        self.deliver_due();
        for i in 0..self.nodes.len() {
            self.handle_ready(i);
        }
        self.client();
        self.check();
    }

    fn restart_due(&mut self) {
        for i in 0..self.nodes.len() {
            let n = &mut self.nodes[i];
            if n.raw.is_none() && n.restart_at <= self.now {
                Self::boot(n, self.seed, &self.opts);
                let id = n.id;
                self.note(format!("restart {id}"));
            }
        }
    }

    fn heal_due(&mut self) {
        let now = self.now;
        self.cut.retain(|_, heal_at| *heal_at > now);
    }

    fn deliver_due(&mut self) {
        while self.net.peek().is_some_and(|m| m.deliver_at <= self.now) {
            let m = self.net.pop().expect("peeked");
            if self.cut.contains_key(&(m.from, m.to)) {
                continue;
            }
            let node = &mut self.nodes[m.to as usize - 1];
            let Some(raw) = &mut node.raw else { continue };
            let msgs = match m.msg {
                Some(msg) => vec![msg],
                None => {
                    // Alternate aligned and deliberately misaligned receive
                    // buffers to exercise both decode paths.
                    let frame = if m.seq % 7 == 0 {
                        let mut v = vec![0u8; m.frame.len() + 1];
                        v[1..].copy_from_slice(&m.frame);
                        Bytes::from(v).slice(1..)
                    } else {
                        m.frame.clone()
                    };
                    match wire::decode(&frame) {
                        Ok(d) => d.envelopes.into_iter().map(|e| e.message).collect(),
                        Err(e) => {
                            panic!("seed {}: frame we encoded failed to decode: {e}", self.seed)
                        }
                    }
                }
            };
            for msg in msgs {
                if self.verbose {
                    self.trace.push(format!("[{}] deliver {msg}", self.now));
                }
                raw.step(msg);
            }
        }
    }

    /// Sends one Ready's messages: through the wire codec, all messages for
    /// one destination packed into one frame (as the runtime will), or by
    /// value.
    fn send_all(&mut self, from: NodeId, messages: Vec<Message>) {
        let snapshots = messages
            .iter()
            .filter(|m| matches!(m.body, consensus::MessageBody::InstallSnapshot { .. }))
            .count();
        self.stats.snapshots_sent += snapshots as u64;
        if self.opts.use_wire {
            let envelopes = messages
                .into_iter()
                .map(|message| Envelope { group: 1, message })
                .collect();
            for (to, frame) in wire::encode_by_destination(envelopes) {
                self.transmit(from, to, frame, None);
            }
        } else {
            for m in messages {
                self.transmit(from, m.to, Bytes::new(), Some(m));
            }
        }
    }

    fn transmit(&mut self, from: NodeId, to: NodeId, frame: Bytes, msg: Option<Message>) {
        if self.faults_on && self.rng.gen_range(0..1000) < self.opts.drop_per_mille {
            return;
        }
        let duplicate =
            self.faults_on && self.rng.gen_range(0..1000) < self.opts.duplicate_per_mille;
        for _ in 0..1 + duplicate as usize {
            let delay = self.rng.gen_range(1..=self.opts.delay_steps_max);
            self.net_seq += 1;
            self.net.push(InFlight {
                deliver_at: self.now + delay,
                seq: self.net_seq,
                from,
                to,
                frame: frame.clone(),
                msg: msg.clone(),
            });
        }
    }

    fn handle_ready(&mut self, i: usize) {
        let now = self.now;
        // A hard state that needs no sync (only the commit index moved) is
        // written lazily; model a crash losing it half of the time by not
        // writing it at all (a later synced write supersedes it anyway).
        let lazy_write_survives = !self.faults_on || self.rng.gen_bool(0.5);
        let n = &mut self.nodes[i];
        let Some(raw) = &mut n.raw else { return };
        if n.pending.as_ref().is_some_and(|p| p.done_at <= now) {
            let Pending { ready, .. } = n.pending.take().expect("checked");
            let id = n.id;
            // 1-3: persist.
            if let Some(snap) = &ready.snapshot {
                raw.store_mut().apply_snapshot(snap.clone());
                n.sm = StateMachine::decode(&snap.data);
                assert_eq!(n.sm.applied, snap.meta.index);
            }
            raw.store_mut().append(&ready.entries);
            if let Some(hs) = ready.hard_state {
                if ready.must_sync || lazy_write_survives {
                    raw.store_mut().set_hard_state(hs);
                }
            }
            let mut persisted = Vec::new();
            {
                let store = raw.store();
                for e in &ready.entries {
                    if e.index >= store.first_index() {
                        let prev = store.term(e.index - 1).expect("previous entry stored");
                        persisted.push((e.index, e.term, e.data.clone(), prev));
                    }
                }
            }
            // 5: apply.
            let mut applied = Vec::new();
            for e in &ready.committed_entries {
                n.sm.apply(e);
                applied.push((e.clone(), n.sm.hash));
            }
            raw.advance();
            // Compact now and then, so lagging nodes need snapshots.
            if n.sm.applied >= raw.store().first_index() + self.opts.compact_after_entries {
                let conf = raw.applied_conf().clone();
                let (index, data) = (n.sm.applied, n.sm.encode());
                raw.store_mut().create_snapshot(index, conf, data);
            }
            let term = raw.status().term;
            for (index, term, data, prev) in persisted {
                self.check_persisted(id, index, term, data, prev);
            }
            for (e, hash) in applied {
                self.check_applied(id, &e, hash);
            }
            // 4: send (after persisting; the order between send and apply
            // is free).
            self.send_all(id, ready.messages);
            // 6: reads are linearizable: they see every write acknowledged
            // before they were requested.
            for rs in ready.read_states {
                let floor = self
                    .reads
                    .remove(&rs.ctx)
                    .unwrap_or_else(|| self.fail(format!("read state for unknown ctx {}", rs.ctx)));
                if rs.index < floor {
                    self.fail(format!("read-index: node {id} answered read {} at index {} below {floor}, already committed when the read began", rs.ctx, rs.index));
                }
                self.reads_served += 1;
            }
            if let Some(ss) = ready.soft_state {
                if ss.role == Role::Leader {
                    self.stats.leader_changes += 1;
                    self.note(format!("{id} leads term {term}"));
                }
            }
        }
        let n = &mut self.nodes[i];
        let Some(raw) = &mut n.raw else { return };
        if n.pending.is_none() && raw.has_ready() {
            let mut ready = raw.ready();
            let delay = if self.faults_on {
                self.rng.gen_range(0..=self.opts.persist_steps_max)
            } else {
                0
            };
            // Only leaders send appends, and they may send them while their
            // own entries are still being persisted (see DESIGN.md).
            let early: Vec<Message> = if self.opts.early_appends {
                let (early, later) = ready
                    .messages
                    .into_iter()
                    .partition(|m| matches!(m.body, consensus::MessageBody::Append { .. }));
                ready.messages = later;
                early
            } else {
                Vec::new()
            };
            let id = n.id;
            n.pending = Some(Pending {
                ready,
                done_at: now + delay,
            });
            self.send_all(id, early);
            if delay == 0 {
                self.handle_ready(i);
            }
        }
    }

    fn check_persisted(
        &mut self,
        id: NodeId,
        index: Index,
        term: Term,
        data: Bytes,
        prev_term: Term,
    ) {
        match self.checker.persisted.get(&(index, term)) {
            None => {
                self.checker
                    .persisted
                    .insert((index, term), (data, prev_term));
            }
            Some((d, p)) => {
                if *d != data || *p != prev_term {
                    self.fail(format!("log matching: node {id} stores {term}/{index} with prev term {prev_term}, another node stored prev term {p} or other data"));
                }
            }
        }
    }

    fn check_applied(&mut self, id: NodeId, e: &Entry, hash: u64) {
        match self.checker.applied.get(&e.index) {
            None => {
                self.checker
                    .applied
                    .insert(e.index, (e.term, e.data.clone(), hash));
            }
            Some((t, d, h)) => {
                if *t != e.term || *d != e.data || *h != hash {
                    self.fail(format!("state machine safety: node {id} applied {}/{} but {t}/{} was applied before (or state differs)", e.term, e.index, e.index));
                }
            }
        }
        if e.data.len() >= 8 && e.kind == EntryKind::Normal {
            let pid = u64::from_le_bytes(e.data[..8].try_into().unwrap());
            if self.outstanding.remove(&pid).is_some() {
                self.acked.insert(pid);
                self.stats.committed_proposals += 1;
            }
        }
    }

    fn check(&mut self) {
        for i in 0..self.nodes.len() {
            let Some(raw) = &self.nodes[i].raw else {
                continue;
            };
            let st = raw.status();
            if st.role != Role::Leader {
                continue;
            }
            let id = self.nodes[i].id;
            match self.checker.leader_of_term.get(&st.term) {
                Some(&other) if other != id => self.fail(format!(
                    "election safety: {other} and {id} both lead term {}",
                    st.term
                )),
                Some(_) => {}
                None => {
                    self.checker.leader_of_term.insert(st.term, id);
                }
            }
            // Leader completeness, at election: the new leader holds every
            // entry a leader of an earlier term committed.
            if self.checker.leaders_checked.insert((id, st.term)) {
                for (&index, &(term, commit_term)) in self.checker.committed.range(st.first_index..)
                {
                    if commit_term < st.term && raw.term(index) != Some(term) {
                        self.fail(format!("leader completeness: new leader {id} of term {} lacks {term}/{index}, committed in term {commit_term}", st.term));
                    }
                }
            }
            // Record what this leader commits, with the term it commits in.
            let seen = self
                .checker
                .leader_commit_seen
                .get(&st.term)
                .copied()
                .unwrap_or(0);
            let from = (seen + 1).max(st.first_index);
            let mut newly = Vec::new();
            for index in from..=st.commit {
                let term = raw.term(index).expect("committed entry above the snapshot");
                newly.push((index, term));
            }
            self.checker
                .leader_commit_seen
                .insert(st.term, st.commit.max(seen));
            for (index, term) in newly {
                self.checker
                    .committed
                    .entry(index)
                    .or_insert((term, st.term));
                // ... and, continuously, every leader of a later term has it.
                for n in &self.nodes {
                    let Some(other) = &n.raw else { continue };
                    let o = other.status();
                    if o.role == Role::Leader
                        && o.term > st.term
                        && index >= o.first_index
                        && other.term(index) != Some(term)
                    {
                        self.fail(format!("leader completeness: leader {} of term {} lacks {term}/{index}, committed in term {}", n.id, o.term, st.term));
                    }
                }
            }
        }
    }

    // ---- the client ---------------------------------------------------------

    fn payload(&self, id: u64) -> Bytes {
        let mut v = vec![(id % 251) as u8; self.opts.payload_bytes.max(8)];
        v[..8].copy_from_slice(&id.to_le_bytes());
        Bytes::from(v)
    }

    /// Proposes `id` at the leader; returns whether it was accepted.
    fn propose_id(&mut self, id: u64) -> bool {
        let Some(l) = self.leader() else { return false };
        let data = self.payload(id);
        let raw = self.node(l).raw.as_mut().expect("leader runs");
        match raw.propose(data) {
            Ok(_) => {
                self.outstanding.insert(id, self.now);
                true
            }
            Err(_) => false,
        }
    }

    fn client(&mut self) {
        if self.faults_on && self.rng.gen_range(0..1000) < self.opts.propose_per_mille {
            let id = self.next_proposal;
            if self.propose_id(id) {
                self.next_proposal += 1;
            }
        }
        if self.faults_on && self.rng.gen_range(0..1000) < self.opts.propose_per_mille / 4 {
            if let Some(l) = self.leader() {
                let ctx = self.next_read;
                let floor = self
                    .checker
                    .applied
                    .keys()
                    .next_back()
                    .copied()
                    .unwrap_or(0);
                if self
                    .node(l)
                    .raw
                    .as_mut()
                    .expect("leader runs")
                    .read_index(ctx)
                    .is_ok()
                {
                    self.reads.insert(ctx, floor);
                    self.next_read += 1;
                }
            }
        }
        // Retry proposals that seem lost (leader crashed before replicating).
        let now = self.now;
        let stale: Vec<u64> = self
            .outstanding
            .iter()
            .filter(|(_, at)| now - **at > CLIENT_RETRY_STEPS)
            .map(|(id, _)| *id)
            .take(8)
            .collect();
        for id in stale {
            self.propose_id(id);
        }
    }

    // ---- faults ---------------------------------------------------------------

    fn roll(&mut self, per_mille: u32) -> bool {
        self.rng.gen_range(0..1000) < per_mille
    }

    fn schedule_faults(&mut self) {
        if self.now >= self.opts.fault_steps {
            self.faults_on = false;
            self.cut.clear();
            for n in &mut self.nodes {
                n.restart_at = n.restart_at.min(self.now);
            }
            self.note("faults stop".into());
            return;
        }
        let total = self.nodes.len() as NodeId;
        if self.roll(self.opts.crash_per_mille) {
            // Half the crashes hit the leader, preferably with a Ready in
            // flight: that is where losing unpersisted state is most likely
            // to expose an ordering bug.
            let leader = self.leader().filter(|_| self.rng.gen_bool(0.5));
            let id = leader.unwrap_or_else(|| self.rng.gen_range(1..=total));
            let down = self.rng.gen_range(10..200);
            let now = self.now;
            let n = self.node(id);
            if let Some(raw) = n.raw.take() {
                n.pending = None; // Never persisted: lost.
                n.crashed_store = Some(raw.into_store());
                n.restart_at = now + down;
                self.stats.crashes += 1;
                self.note(format!("crash {id} for {down}"));
            }
        }
        if self.roll(self.opts.partition_per_mille) {
            let heal_at = self.now + self.rng.gen_range(20..300);
            if self.rng.gen_bool(0.5) {
                // Symmetric: split into two sides.
                let side: Vec<bool> = (0..total).map(|_| self.rng.gen_bool(0.5)).collect();
                for a in 1..=total {
                    for b in 1..=total {
                        if side[a as usize - 1] != side[b as usize - 1] {
                            self.cut.insert((a, b), heal_at);
                        }
                    }
                }
                self.note(format!("partition {side:?} until {heal_at}"));
            } else {
                let a = self.rng.gen_range(1..=total);
                let b = self.rng.gen_range(1..=total);
                if a != b {
                    self.cut.insert((a, b), heal_at);
                    self.note(format!("cut {a}->{b} until {heal_at}"));
                }
            }
        }
        if self.roll(self.opts.membership_per_mille) {
            self.change_membership();
        }
        if self.roll(self.opts.transfer_per_mille) {
            if let Some(l) = self.leader() {
                let to = self.rng.gen_range(1..=total);
                let raw = self.node(l).raw.as_mut().expect("leader runs");
                let _ = raw.transfer_leader(to);
                self.note(format!("transfer {l} -> {to}"));
            }
        }
    }

    fn change_membership(&mut self) {
        let Some(l) = self.leader() else { return };
        let total = self.nodes.len() as NodeId;
        let raw = self.nodes[l as usize - 1]
            .raw
            .as_ref()
            .expect("leader runs");
        let conf = raw.conf().clone();
        let target = self.rng.gen_range(1..=total);
        let change = if conf.is_learner(target) {
            if self.rng.gen_bool(0.8) {
                ConfChange::PromoteLearner(target)
            } else {
                ConfChange::Remove(target)
            }
        } else if conf.is_voter(target) {
            // Keep at least the initial number of voters so the liveness
            // phase can tolerate what the initial group tolerates.
            if conf.voters.len() <= self.opts.voters {
                return;
            }
            ConfChange::Remove(target)
        } else {
            ConfChange::AddLearner(target)
        };
        let raw = self.node(l).raw.as_mut().expect("leader runs");
        let r = raw.propose_conf_change(change);
        if r.is_ok() {
            self.stats.conf_changes += 1;
        }
        let r: Result<Index, ProposeError> = r;
        self.note(format!("{l} proposes {change:?}: {r:?}"));
    }

    // ---- driving ------------------------------------------------------------------

    /// Runs the fault phase, then checks liveness: with faults stopped, a
    /// leader emerges, every outstanding and one fresh proposal commit, and
    /// every member applies the same log.
    pub fn run(&mut self) {
        while self.now < self.opts.fault_steps {
            self.step();
        }
        self.faults_on = false;
        self.cut.clear();
        let deadline = self.now + self.opts.liveness_steps_max;
        let fresh = self.next_proposal;
        self.next_proposal += 1;
        let mut fresh_proposed = false;
        loop {
            self.step();
            if !fresh_proposed {
                fresh_proposed = self.propose_id(fresh);
            }
            if fresh_proposed && self.converged() {
                return;
            }
            if self.now > deadline {
                let summary: Vec<String> = self
                    .nodes
                    .iter()
                    .map(|n| match &n.raw {
                        Some(r) => format!("{:?} conf={:?}", r.status(), r.conf()),
                        None => format!("{} down", n.id),
                    })
                    .collect();
                self.fail(format!("liveness: not converged {} steps after faults stopped; outstanding {:?}; nodes:\n{}", self.opts.liveness_steps_max, self.outstanding.keys().take(10).collect::<Vec<_>>(), summary.join("\n")));
            }
        }
    }

    fn converged(&self) -> bool {
        if !self.outstanding.is_empty() {
            return false;
        }
        let Some(l) = self.leader() else { return false };
        let leader = self.nodes[l as usize - 1]
            .raw
            .as_ref()
            .expect("leader runs");
        let st = leader.status();
        if st.commit != st.last_index {
            return false;
        }
        let conf = leader.conf();
        conf.members().all(|id| {
            let n = &self.nodes[id as usize - 1];
            n.raw
                .as_ref()
                .is_some_and(|r| n.sm.applied == st.commit && r.status().leader == l)
        })
    }

    pub fn committed_proposals(&self) -> u64 {
        self.stats.committed_proposals
    }

    /// Bench helper: propose `count` payloads at the leader, then step until
    /// all committed. Returns steps taken.
    /// Proposes `count` payloads at the leader, at most `per_step` per step,
    /// and steps until all are applied somewhere. Returns the steps taken.
    pub fn propose_and_commit(&mut self, count: u64, per_step: u64) -> u64 {
        let start = self.now;
        let mut left = count;
        while left > 0 || !self.outstanding.is_empty() {
            let mut this_step = per_step;
            while left > 0 && this_step > 0 {
                this_step -= 1;
                let id = self.next_proposal;
                if !self.propose_id(id) {
                    break;
                }
                self.next_proposal += 1;
                left -= 1;
            }
            self.step();
            assert!(self.now - start < 100_000, "no progress");
        }
        self.now - start
    }

    pub fn wait_for_leader(&mut self) {
        while self.leader().is_none() || !self.leader_ready() {
            self.step();
            assert!(self.now < 10_000, "no leader");
        }
    }

    fn leader_ready(&self) -> bool {
        let l = self.leader().expect("leader");
        let st = self.nodes[l as usize - 1].raw.as_ref().unwrap().status();
        st.commit == st.last_index && st.commit > 0
    }
}
