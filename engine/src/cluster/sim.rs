//! A seeded simulation of the controller: voters running the real Raft
//! (`consensus::RawNode`) over a network that drops, delays, reorders and
//! partitions, crashing and restarting from what they persisted; the leader
//! proposes metadata changes through the real [`proposals`] and placement;
//! every node applies committed entries to its own [`MetadataImage`].
//!
//! Checked after every step: one leader per term; every node's image is the
//! same at the same applied index; a topic id never names two topics; each
//! image keeps its invariants; a topic created while every broker was live
//! spreads its leaders evenly over them.
//!
//! `SIM_SEEDS=n` runs more seeds; a failure prints its seed, and
//! `SIM_SEED=s` replays just that one.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use consensus::{Config, Entry, EntryKind, Index, MemStorage, Message, RawNode, Role, Storage};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::controller::{node_id_of, raft_id};
use super::image::MetadataImage;
use super::proposals;
use super::records::{
    decode_batch, encode_batch, Endpoint, MetadataRecord, NodeId, RegisterBroker, TopicId,
};
use super::topics::NewTopic;

const VOTERS: [NodeId; 3] = [1, 2, 3];
const STEPS: usize = 1500;

struct Node {
    id: NodeId,
    /// `None` while crashed.
    raft: Option<RawNode<MemStorage>>,
    /// What survives a crash: the entries and hard state persisted.
    disk: MemStorage,
    image: MetadataImage,
    applied: Index,
}

impl Node {
    fn start(id: NodeId, disk: MemStorage, seed: u64) -> Node {
        let mut image = MetadataImage::default();
        let commit = disk.hard_state().commit;
        // Replay what is committed, as `Controller::open` does: the
        // snapshot's image, then the entries after it.
        let snapshot = disk.snapshot().expect("memory storage has one");
        let mut applied = snapshot.meta.index;
        if applied > 0 {
            for record in decode_batch(&snapshot.data).expect("a snapshot") {
                image.apply(&record).expect("snapshot records apply");
            }
        }
        if commit >= disk.first_index() {
            for entry in disk
                .entries(disk.first_index(), commit + 1, u64::MAX)
                .unwrap()
            {
                apply_entry(&mut image, &entry);
                applied = entry.index;
            }
        }
        let mut config = Config::new(raft_id(id), seed);
        config.election_ticks = 12;
        config.heartbeat_ticks = 2;
        config.applied = applied;
        Node {
            id,
            raft: Some(RawNode::new(&config, disk.clone())),
            disk,
            image,
            applied,
        }
    }
}

fn apply_entry(image: &mut MetadataImage, entry: &Entry) {
    if entry.kind == EntryKind::Normal && !entry.data.is_empty() {
        for record in decode_batch(&entry.data).expect("the leader encoded it") {
            // Refusals are deterministic: every node refuses alike.
            let _ = image.apply(&record);
            image.check_invariants();
        }
    }
}

struct Sim {
    rng: SmallRng,
    nodes: Vec<Node>,
    /// Messages in flight: (deliver at step, message).
    network: Vec<(usize, Message)>,
    /// Pairs of nodes that cannot reach each other.
    cut: BTreeSet<(NodeId, NodeId)>,
    step: usize,
    leaders_by_term: BTreeMap<u64, NodeId>,
    /// The image every node had after applying each index.
    images_at: HashMap<Index, String>,
    /// Every topic id ever seen, with its name.
    topic_names: HashMap<TopicId, String>,
    /// Brokers and the incarnation each runs now.
    incarnations: BTreeMap<NodeId, u64>,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let rng = SmallRng::seed_from_u64(seed);
        let voters: Vec<u64> = VOTERS.iter().map(|&v| raft_id(v)).collect();
        let nodes = VOTERS
            .iter()
            .map(|&id| Node::start(id, MemStorage::bootstrap(&voters), seed ^ id as u64))
            .collect();
        Sim {
            rng,
            nodes,
            network: Vec::new(),
            cut: BTreeSet::new(),
            step: 0,
            leaders_by_term: BTreeMap::new(),
            images_at: HashMap::new(),
            topic_names: HashMap::new(),
            incarnations: BTreeMap::new(),
        }
    }

    fn run(&mut self) {
        for _ in 0..STEPS {
            self.step += 1;
            self.faults();
            self.deliver();
            for i in 0..self.nodes.len() {
                if let Some(raft) = self.nodes[i].raft.as_mut() {
                    raft.tick();
                }
                self.handle_ready(i);
            }
            if self.rng.gen_bool(0.2) {
                self.propose();
            }
            self.check_leaders();
        }
    }

    fn faults(&mut self) {
        let roll: f64 = self.rng.gen();
        if roll < 0.004 {
            let i = self.rng.gen_range(0..self.nodes.len());
            let node = &mut self.nodes[i];
            if node.raft.take().is_some() {
                // Crash: only the disk survives.
            } else {
                let seed = self.rng.gen();
                let disk = node.disk.clone();
                self.nodes[i] = Node::start(VOTERS[i], disk, seed);
            }
        } else if roll < 0.008 {
            let a = VOTERS[self.rng.gen_range(0..VOTERS.len())];
            let b = VOTERS[self.rng.gen_range(0..VOTERS.len())];
            if a != b {
                self.cut.insert((a.min(b), a.max(b)));
            }
        } else if roll < 0.014 {
            self.cut.clear();
        }
    }

    fn deliver(&mut self) {
        let now = self.step;
        let (due, later): (Vec<_>, Vec<_>) = self.network.drain(..).partition(|(at, _)| *at <= now);
        self.network = later;
        for (_, message) in due {
            let to = node_id_of(message.to);
            let from = node_id_of(message.from);
            if self.cut.contains(&(to.min(from), to.max(from))) {
                continue;
            }
            let i = VOTERS.iter().position(|&v| v == to).expect("a voter");
            if let Some(raft) = self.nodes[i].raft.as_mut() {
                raft.step(message);
            }
        }
    }

    fn handle_ready(&mut self, i: usize) {
        loop {
            let Some(raft) = self.nodes[i].raft.as_mut() else {
                return;
            };
            if !raft.has_ready() {
                return;
            }
            let ready = raft.ready();
            let node = &mut self.nodes[i];
            let raft = node.raft.as_mut().expect("running");
            if let Some(snapshot) = &ready.snapshot {
                node.disk.apply_snapshot(snapshot.clone());
                raft.store_mut().apply_snapshot(snapshot.clone());
                let mut image = MetadataImage::default();
                for record in decode_batch(&snapshot.data).expect("a snapshot") {
                    image.apply(&record).expect("snapshot records apply");
                }
                node.image = image;
                node.applied = snapshot.meta.index;
            }
            node.disk.append(&ready.entries);
            raft.store_mut().append(&ready.entries);
            if let Some(hard_state) = ready.hard_state {
                node.disk.set_hard_state(hard_state);
                raft.store_mut().set_hard_state(hard_state);
            }
            for message in ready.messages {
                let delay = self.rng.gen_range(1..4);
                if self.rng.gen_bool(0.03) {
                    continue; // lost
                }
                self.network.push((self.step + delay, message));
            }
            for entry in &ready.committed_entries {
                let node = &mut self.nodes[i];
                assert_eq!(entry.index, node.applied + 1, "in order");
                apply_entry(&mut node.image, entry);
                node.applied = entry.index;
                let fingerprint = format!("{:?}", node.image);
                let seen = self
                    .images_at
                    .entry(entry.index)
                    .or_insert_with(|| fingerprint.clone());
                assert_eq!(
                    *seen, fingerprint,
                    "node {} image differs at index {}",
                    node.id, entry.index
                );
                for topic in node.image.topics() {
                    let name = self
                        .topic_names
                        .entry(topic.id)
                        .or_insert_with(|| topic.name.clone());
                    assert_eq!(*name, topic.name, "topic id {} reused", topic.id);
                }
            }
            let node = &mut self.nodes[i];
            let raft = node.raft.as_mut().expect("running");
            raft.advance();
            // Compact now and then, as the controller does.
            if node.applied > node.disk.first_index() + 40 && self.rng.gen_bool(0.1) {
                let conf = raft.raft().applied_conf().clone();
                let data = Bytes::from(encode_batch(&node.image.to_records()));
                raft.store_mut()
                    .create_snapshot(node.applied, conf.clone(), data.clone());
                node.disk.create_snapshot(node.applied, conf, data);
            }
        }
    }

    fn check_leaders(&mut self) {
        for node in &self.nodes {
            if let Some(raft) = &node.raft {
                let status = raft.status();
                if status.role == Role::Leader {
                    let leader = self.leaders_by_term.entry(status.term).or_insert(node.id);
                    assert_eq!(*leader, node.id, "two leaders in term {}", status.term);
                }
            }
        }
    }

    /// The leader (if any) proposes a random metadata change.
    fn propose(&mut self) {
        let Some(i) = self.nodes.iter().position(|n| {
            n.raft
                .as_ref()
                .is_some_and(|r| r.status().role == Role::Leader)
        }) else {
            return;
        };
        let image = &self.nodes[i].image;
        let brokers: Vec<NodeId> = (1..=5).collect();
        let records = match self.rng.gen_range(0..6) {
            0 => {
                let node_id = brokers[self.rng.gen_range(0..brokers.len())];
                let incarnation = self.rng.gen();
                self.incarnations.insert(node_id, incarnation);
                vec![MetadataRecord::RegisterBroker(RegisterBroker {
                    node_id,
                    incarnation,
                    endpoints: vec![Endpoint {
                        listener: "PLAINTEXT".into(),
                        host: "h".into(),
                        port: 9092,
                    }],
                    rpc_host: "h".into(),
                    rpc_port: 9093,
                    rack: None,
                    shard_count: 2,
                })]
            }
            1 => {
                let Some((&node_id, &incarnation)) =
                    self.incarnations.iter().nth(self.rng.gen_range(0..5))
                else {
                    return;
                };
                let live = self.rng.gen_bool(0.6);
                let mut records = vec![if live {
                    MetadataRecord::UnfenceBroker {
                        node_id,
                        incarnation,
                    }
                } else {
                    MetadataRecord::FenceBroker {
                        node_id,
                        incarnation,
                    }
                }];
                let mut after = image.clone();
                if after.apply(&records[0]).is_err() {
                    return;
                }
                records.extend(after.leadership_changes(node_id, live));
                records
            }
            2 | 3 => {
                let topic = NewTopic {
                    name: format!("t{}", self.rng.gen_range(0..8)),
                    partitions: self.rng.gen_range(1..7),
                    replication_factor: -1,
                    configs: Vec::new(),
                };
                let id = TopicId(self.rng.gen());
                match proposals::create_topic(image, &topic, id, 1) {
                    Ok(records) => {
                        check_spread(image, &records);
                        records
                    }
                    Err(_) => return,
                }
            }
            4 => {
                let Some(topic) = image.topics().nth(self.rng.gen_range(0..8)) else {
                    return;
                };
                if self.rng.gen_bool(0.5) {
                    vec![MetadataRecord::RemoveTopic { topic_id: topic.id }]
                } else {
                    let count = topic.partitions.len() as i32 + self.rng.gen_range(1..3);
                    match proposals::add_partitions(image, &topic.name.clone(), count, None) {
                        Ok(records) => records,
                        Err(_) => return,
                    }
                }
            }
            _ => vec![MetadataRecord::ProducerIds {
                node_id: brokers[0],
                first_id: image.next_producer_id(),
                count: 1000,
            }],
        };
        let raft = self.nodes[i].raft.as_mut().expect("the leader runs");
        let _ = raft.propose(Bytes::from(encode_batch(&records)));
    }
}

/// A new topic's leaders spread evenly over the live brokers.
fn check_spread(image: &MetadataImage, records: &[MetadataRecord]) {
    let live: Vec<NodeId> = image
        .brokers()
        .filter(|b| !b.fenced)
        .map(|b| b.node_id())
        .collect();
    let mut led: BTreeMap<NodeId, usize> = live.iter().map(|&n| (n, 0)).collect();
    for record in records {
        if let MetadataRecord::Partition(p) = record {
            *led.get_mut(&p.replicas[0])
                .expect("placed on a live broker") += 1;
        }
    }
    let (min, max) = (led.values().min(), led.values().max());
    if let (Some(min), Some(max)) = (min, max) {
        assert!(max - min <= 1, "uneven leaders {led:?}");
    }
}

#[test]
fn the_controller_under_crashes_partitions_and_loss() {
    let seeds: Vec<u64> = match std::env::var("SIM_SEED") {
        Ok(seed) => vec![seed.parse().expect("SIM_SEED is a number")],
        Err(_) => {
            let count = std::env::var("SIM_SEEDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(40);
            (0..count).collect()
        }
    };
    let mut applied = 0;
    let mut topics = 0;
    for seed in seeds {
        let mut sim = Sim::new(seed);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sim.run()));
        if let Err(panic) = outcome {
            eprintln!("failing seed: SIM_SEED={seed} cargo test -p engine the_controller_under");
            std::panic::resume_unwind(panic);
        }
        applied += sim.nodes.iter().map(|n| n.applied).max().unwrap_or(0);
        topics += sim.topic_names.len();
    }
    // Coverage: the runs must have done real work, not idled.
    assert!(
        applied > 1000,
        "only {applied} entries applied over all seeds"
    );
    assert!(topics > 50, "only {topics} topics created over all seeds");
}
