//! Data-driven scenario tests in the style of etcd-raft's interaction tests.
//!
//! Each file in `tests/testdata/` is a list of blocks:
//!
//! ```text
//! # comment
//! command arg key=value
//! ----
//! expected output
//! <blank line>
//! ```
//!
//! The runner executes every command against a small deterministic cluster
//! (no randomness but the nodes' seeded election timeouts) and compares the
//! output with the checked-in trace. `UPDATE_SCENARIOS=1 cargo test -p
//! consensus --test it scenario` rewrites the traces; review the diff.
//!
//! Commands:
//! - `add-nodes N voters=(1,2,3) [pre-vote=false] [check-quorum=false]`:
//!   nodes with the next N ids; those in `voters` bootstrap the group.
//! - `campaign ID`, `propose ID DATA`, `read-index ID CTX`,
//!   `transfer-leadership from=ID to=ID`,
//!   `propose-conf-change ID add-learner=N|promote=N|remove=N`
//! - `tick ID [N]`, `tick-election ID`, `tick-heartbeat ID`
//! - `process-ready [ID...]`: persist, send, apply one Ready per node.
//! - `deliver-msgs [ID...] [drop=(ID,...)]`: deliver queued messages to
//!   these nodes (all if none named), first losing those to `drop`;
//!   `drop-msgs [ID...]`: lose the messages queued for these nodes.
//! - `stabilize [ID...]`: process-ready and deliver until nothing moves.
//! - `isolate ID`, `recover`: cut a node off / heal every link.
//! - `compact ID`: snapshot at the applied index and drop the log prefix.
//! - `crash ID`, `restart ID`: lose everything not persisted / boot again.
//! - `status ID`, `raft-log ID`, `applied ID`

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

use bytes::Bytes;
use consensus::{
    ConfChange, Config, Entry, EntryKind, MemStorage, Message, NodeId, RawNode, Storage,
};

struct Node {
    raw: Option<RawNode<MemStorage>>,
    crashed_store: Option<MemStorage>,
    cfg: Config,
    /// Applied entries, as "term/index data".
    applied: Vec<String>,
    applied_index: u64,
}

#[derive(Default)]
struct Env {
    nodes: BTreeMap<NodeId, Node>,
    /// Messages sent and not yet delivered, in send order.
    queue: Vec<Message>,
    isolated: BTreeSet<NodeId>,
}

fn describe_entry(e: &Entry) -> String {
    match e.kind {
        EntryKind::ConfChange => format!(
            "{}/{} {:?}",
            e.term,
            e.index,
            ConfChange::decode(&e.data).expect("valid conf change")
        ),
        EntryKind::Normal => format!(
            "{}/{} {:?}",
            e.term,
            e.index,
            String::from_utf8_lossy(&e.data)
        ),
    }
}

fn parse_ids(v: &str) -> Vec<NodeId> {
    v.trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim().parse().expect("node id"))
        .collect()
}

impl Env {
    fn node(&mut self, id: NodeId) -> &mut Node {
        self.nodes
            .get_mut(&id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    fn raw(&mut self, id: NodeId) -> &mut RawNode<MemStorage> {
        self.node(id)
            .raw
            .as_mut()
            .unwrap_or_else(|| panic!("node {id} is down"))
    }

    fn run(&mut self, cmd: &str, args: &[&str], kv: &BTreeMap<&str, &str>, out: &mut String) {
        let id = || -> NodeId {
            args.first()
                .expect("node id argument")
                .parse()
                .expect("node id")
        };
        match cmd {
            "add-nodes" => {
                let n: u64 = id();
                let voters = parse_ids(kv.get("voters").expect("voters=(...)"));
                let first = self.nodes.keys().next_back().map_or(1, |l| l + 1);
                for id in first..first + n {
                    let mut cfg = Config::new(id, id * 7919);
                    cfg.pre_vote = kv.get("pre-vote").is_none_or(|v| *v == "true");
                    cfg.check_quorum = kv.get("check-quorum").is_none_or(|v| *v == "true");
                    let store = if voters.contains(&id) {
                        MemStorage::bootstrap(&voters)
                    } else {
                        MemStorage::default()
                    };
                    self.nodes.insert(
                        id,
                        Node {
                            raw: Some(RawNode::new(&cfg, store)),
                            crashed_store: None,
                            cfg,
                            applied: Vec::new(),
                            applied_index: 0,
                        },
                    );
                }
                for id in first..first + n {
                    let st = self.raw(id).status();
                    writeln!(
                        out,
                        "{id}: term={} commit={} last={} voters={:?}",
                        st.term,
                        st.commit,
                        st.last_index,
                        self.raw(id).conf().voters
                    )
                    .unwrap();
                }
            }
            "campaign" => self.raw(id()).campaign(),
            "propose" => {
                let data = Bytes::from(args[1].to_string());
                let r = self.raw(id()).propose(data);
                if let Err(e) = r {
                    writeln!(out, "error: {e}").unwrap();
                }
            }
            "propose-conf-change" => {
                let (k, v) = kv.iter().next().expect("a change");
                let target: NodeId = v.parse().expect("node id");
                let change = match *k {
                    "add-learner" => ConfChange::AddLearner(target),
                    "promote" => ConfChange::PromoteLearner(target),
                    "remove" => ConfChange::Remove(target),
                    other => panic!("unknown change {other}"),
                };
                match self.raw(id()).propose_conf_change(change) {
                    Ok(index) => writeln!(out, "proposed at {index}").unwrap(),
                    Err(e) => writeln!(out, "error: {e}").unwrap(),
                }
            }
            "transfer-leadership" => {
                let from: NodeId = kv["from"].parse().unwrap();
                let to: NodeId = kv["to"].parse().unwrap();
                if let Err(e) = self.raw(from).transfer_leader(to) {
                    writeln!(out, "error: {e}").unwrap();
                }
            }
            "read-index" => {
                let ctx: u64 = args[1].parse().unwrap();
                if let Err(e) = self.raw(id()).read_index(ctx) {
                    writeln!(out, "error: {e}").unwrap();
                }
            }
            "tick" => {
                let n: u64 = args.get(1).map_or(1, |s| s.parse().unwrap());
                for _ in 0..n {
                    self.raw(id()).tick();
                }
            }
            "tick-election" => {
                // The randomized timeout lies in [e, 2e): 2e-1 ticks fire it
                // at least once.
                let id = id();
                let n = self.node(id).cfg.election_ticks * 2 - 1;
                for _ in 0..n {
                    self.raw(id).tick();
                }
            }
            "tick-heartbeat" => {
                let id = id();
                let n = self.node(id).cfg.heartbeat_ticks;
                for _ in 0..n {
                    self.raw(id).tick();
                }
            }
            "process-ready" => {
                let ids = self.ids(args);
                for id in ids {
                    self.process_ready(id, out);
                }
            }
            "deliver-msgs" => {
                let ids = self.ids(args);
                if let Some(drop) = kv.get("drop") {
                    let drop = parse_ids(drop);
                    self.queue.retain(|m| {
                        let lost = drop.contains(&m.to);
                        if lost {
                            writeln!(out, "dropped: {m}").unwrap();
                        }
                        !lost
                    });
                }
                self.deliver(&ids, out);
            }
            "drop-msgs" => {
                let ids = self.ids(args);
                self.queue.retain(|m| {
                    let drop = ids.contains(&m.to);
                    if drop {
                        writeln!(out, "dropped: {m}").unwrap();
                    }
                    !drop
                });
            }
            "stabilize" => {
                let ids = self.ids(args);
                loop {
                    let mut moved = false;
                    for &id in &ids {
                        moved |= self.process_ready(id, out);
                    }
                    moved |= self.deliver(&ids, out);
                    if !moved {
                        break;
                    }
                }
            }
            "isolate" => {
                self.isolated.insert(id());
            }
            "recover" => self.isolated.clear(),
            "compact" => {
                let id = id();
                let node = self.node(id);
                let index = node.applied_index;
                let data = Bytes::from(node.applied.join("\n"));
                let raw = node.raw.as_mut().unwrap();
                let conf = raw.applied_conf().clone();
                raw.store_mut().create_snapshot(index, conf, data);
                let st = raw.status();
                writeln!(out, "{id}: first={} last={}", st.first_index, st.last_index).unwrap();
            }
            "crash" => {
                let node = self.node(id());
                let raw = node.raw.take().expect("running");
                node.crashed_store = Some(raw.into_store());
            }
            "restart" => {
                let node = self.node(id());
                let store = node.crashed_store.take().expect("crashed");
                let snap = store.snapshot().unwrap();
                node.applied = applied_in(&snap.data);
                node.applied_index = snap.meta.index;
                node.cfg.applied = snap.meta.index;
                node.raw = Some(RawNode::new(&node.cfg, store));
            }
            "status" => {
                let id = id();
                let raw = self.raw(id);
                let st = raw.status();
                writeln!(
                    out,
                    "{id}: {:?} term={} leader={} commit={} applied={} first={} last={}",
                    st.role,
                    st.term,
                    st.leader,
                    st.commit,
                    st.applied,
                    st.first_index,
                    st.last_index
                )
                .unwrap();
                writeln!(
                    out,
                    "voters={:?} learners={:?}",
                    raw.conf().voters,
                    raw.conf().learners
                )
                .unwrap();
                let members: Vec<NodeId> = raw.conf().members().collect();
                for m in members {
                    if let Some(p) = raw.raft().progress(m) {
                        writeln!(
                            out,
                            "  {m}: {:?} match={} next={} inflight={}",
                            p.state,
                            p.matched,
                            p.next,
                            p.inflight_count()
                        )
                        .unwrap();
                    }
                }
            }
            "raft-log" => {
                let raw = self.raw(id());
                let st = raw.status();
                let entries = raw
                    .store()
                    .entries(
                        raw.store().first_index(),
                        raw.store().last_index() + 1,
                        u64::MAX,
                    )
                    .unwrap();
                if entries.is_empty() {
                    writeln!(
                        out,
                        "log is empty: first={} last={}",
                        st.first_index, st.last_index
                    )
                    .unwrap();
                }
                for e in entries {
                    writeln!(out, "{}", describe_entry(&e)).unwrap();
                }
            }
            "applied" => {
                let node = self.node(id());
                for a in &node.applied {
                    writeln!(out, "{a}").unwrap();
                }
            }
            other => panic!("unknown command {other}"),
        }
    }

    fn ids(&self, args: &[&str]) -> Vec<NodeId> {
        if args.is_empty() {
            self.nodes.keys().copied().collect()
        } else {
            args.iter().map(|a| a.parse().expect("node id")).collect()
        }
    }

    fn process_ready(&mut self, id: NodeId, out: &mut String) -> bool {
        let isolated = self.isolated.clone();
        let node = self.nodes.get_mut(&id).unwrap();
        let Some(raw) = node.raw.as_mut() else {
            return false;
        };
        if !raw.has_ready() {
            return false;
        }
        let ready = raw.ready();
        writeln!(out, "> {id} handling Ready").unwrap();
        if let Some(ss) = ready.soft_state {
            writeln!(out, "  {:?} leader={}", ss.role, ss.leader).unwrap();
        }
        if let Some(snap) = &ready.snapshot {
            writeln!(
                out,
                "  install snapshot {}/{} voters={:?} learners={:?}",
                snap.meta.term, snap.meta.index, snap.meta.conf.voters, snap.meta.conf.learners
            )
            .unwrap();
            raw.store_mut().apply_snapshot(snap.clone());
            node.applied = applied_in(&snap.data);
            node.applied_index = snap.meta.index;
        }
        for e in &ready.entries {
            writeln!(out, "  persist {}", describe_entry(e)).unwrap();
        }
        raw.store_mut().append(&ready.entries);
        if let Some(hs) = ready.hard_state {
            let lazily = if ready.must_sync {
                ""
            } else {
                " (no sync needed)"
            };
            writeln!(
                out,
                "  persist term={} vote={} commit={}{lazily}",
                hs.term, hs.vote, hs.commit
            )
            .unwrap();
            raw.store_mut().set_hard_state(hs);
        }
        for m in &ready.messages {
            let cut = isolated.contains(&m.from) || isolated.contains(&m.to);
            writeln!(out, "  send {m}{}", if cut { " (cut off)" } else { "" }).unwrap();
        }
        for e in &ready.committed_entries {
            writeln!(out, "  apply {}", describe_entry(e)).unwrap();
            node.applied.push(describe_entry(e));
            node.applied_index = e.index;
        }
        for rs in &ready.read_states {
            writeln!(out, "  read ctx={} index={}", rs.ctx, rs.index).unwrap();
        }
        raw.advance();
        for m in ready.messages {
            if self.isolated.contains(&m.from) || self.isolated.contains(&m.to) {
                continue;
            }
            self.queue.push(m);
        }
        true
    }

    fn deliver(&mut self, ids: &[NodeId], out: &mut String) -> bool {
        let (now, later): (Vec<Message>, Vec<Message>) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|m| ids.contains(&m.to));
        self.queue = later;
        let moved = !now.is_empty();
        for m in now {
            let node = self.nodes.get_mut(&m.to).unwrap();
            match node.raw.as_mut() {
                Some(raw) => {
                    writeln!(out, "> {} receiving {m}", m.to).unwrap();
                    raw.step(m);
                }
                None => writeln!(out, "> {} is down, lost {m}", m.to).unwrap(),
            }
        }
        moved
    }
}

/// A parsed block: the command line, the expected output.
struct Block {
    comments: Vec<String>,
    command: String,
    expected: String,
}

fn parse(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().peekable();
    let mut comments = Vec::new();
    while let Some(line) = lines.next() {
        if line.starts_with('#') || line.trim().is_empty() {
            if line.starts_with('#') {
                comments.push(line.to_string());
            }
            continue;
        }
        let command = line.to_string();
        assert_eq!(
            lines.next(),
            Some("----"),
            "command `{command}` must be followed by ----"
        );
        let mut expected = String::new();
        for l in lines.by_ref() {
            if l.is_empty() {
                break;
            }
            expected.push_str(l);
            expected.push('\n');
        }
        blocks.push(Block {
            comments: std::mem::take(&mut comments),
            command,
            expected,
        });
    }
    blocks
}

fn run_file(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let blocks = parse(&text);
    let mut env = Env::default();
    let mut rewritten = String::new();
    let update = std::env::var("UPDATE_SCENARIOS").is_ok();
    let mut failures = Vec::new();
    for b in &blocks {
        let mut parts = b.command.split_whitespace();
        let cmd = parts.next().unwrap();
        let rest: Vec<&str> = parts.collect();
        let args: Vec<&str> = rest.iter().filter(|a| !a.contains('=')).copied().collect();
        let kv: BTreeMap<&str, &str> = rest.iter().filter_map(|a| a.split_once('=')).collect();
        let mut out = String::new();
        env.run(cmd, &args, &kv, &mut out);
        if out.is_empty() {
            out.push_str("ok\n");
        }
        if out != b.expected {
            failures.push(format!(
                "{}: `{}`\n--- expected\n{}--- actual\n{}",
                path.display(),
                b.command,
                b.expected,
                out
            ));
        }
        for c in &b.comments {
            rewritten.push_str(c);
            rewritten.push('\n');
        }
        write!(rewritten, "{}\n----\n{}\n", b.command, out).unwrap();
    }
    if update {
        std::fs::write(path, rewritten).unwrap();
    } else if let Some(first) = failures.first() {
        panic!("{} block(s) differ; first:\n{first}\n(regenerate with UPDATE_SCENARIOS=1 and review the diff)", failures.len());
    }
}

#[test]
fn scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "scenario files missing from {}",
        dir.display()
    );
    for f in files {
        run_file(&f);
    }
}

/// The applied commands a snapshot holds (one per line; none if empty).
fn applied_in(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data)
        .lines()
        .map(str::to_string)
        .collect()
}
