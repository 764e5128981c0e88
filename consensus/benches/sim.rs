//! Benchmarks of the Raft core in the simulator (no I/O):
//!
//! - committed proposals per second and allocations per proposal for a
//!   3-node group with 1 KiB and 64 KiB payloads, with every message through
//!   the wire codec; baseline: the same run with messages passed by value;
//! - memory per idle group with 10,000 groups on one node.
//!
//! `cargo bench -p consensus --bench sim` (results: docs/benchmarks.md).
//! `BENCH_RUNS=n` sets the runs per case (median reported).

#[path = "../tests/it/sim.rs"]
#[allow(dead_code)]
mod sim;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use bytes::Bytes;
use consensus::{Config, MemStorage, Message, MessageBody, RawNode, Storage};
use sim::{Sim, SimOptions};

/// Counts allocations and live bytes.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static LIVE_BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LIVE_BYTES.fetch_add(layout.size() as u64, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as u64, Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LIVE_BYTES.fetch_add(new_size as u64, Relaxed);
        LIVE_BYTES.fetch_sub(layout.size() as u64, Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// CPU time this thread has used: on a machine shared with other jobs, wall
/// time mostly measures the neighbours.
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime failed");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// One run: returns (proposals per wall-clock second, per CPU second,
/// allocations per proposal).
fn throughput(payload_bytes: usize, proposals: u64, use_wire: bool, seed: u64) -> (f64, f64, f64) {
    let mut opts = SimOptions::calm(3, payload_bytes);
    opts.use_wire = use_wire;
    let mut sim = Sim::new(seed, opts);
    sim.wait_for_leader();
    let allocs_before = ALLOCS.load(Relaxed);
    let start = Instant::now();
    let cpu_start = thread_cpu_secs();
    sim.propose_and_commit(proposals, 64);
    let cpu_secs = thread_cpu_secs() - cpu_start;
    let secs = start.elapsed().as_secs_f64();
    let allocs = ALLOCS.load(Relaxed) - allocs_before;
    assert!(sim.committed_proposals() >= proposals);
    let n = proposals as f64;
    (n / secs, n / cpu_secs, allocs as f64 / n)
}

/// Live bytes per group for `groups` idle groups on one node, as followers
/// or as leaders of a 3-voter group, each with a compacted log.
fn idle_group_bytes(groups: u64, leader: bool) -> f64 {
    let before = LIVE_BYTES.load(Relaxed);
    let mut nodes = Vec::with_capacity(groups as usize);
    let vec_bytes = LIVE_BYTES.load(Relaxed) - before;
    for g in 0..groups {
        let mut cfg = Config::new(1, g);
        cfg.pre_vote = false;
        let mut raw = RawNode::new(&cfg, MemStorage::bootstrap(&[1, 2, 3]));
        if leader {
            raw.campaign();
            settle(&mut raw);
            for from in [2, 3] {
                let term = raw.status().term;
                raw.step(Message {
                    from,
                    to: 1,
                    term,
                    body: MessageBody::VoteResponse { reject: false },
                });
            }
            settle(&mut raw);
            let (term, last) = (raw.status().term, raw.status().last_index);
            for from in [2, 3] {
                raw.step(Message {
                    from,
                    to: 1,
                    term,
                    body: MessageBody::AppendResponse {
                        reject: false,
                        index: last,
                        hint_index: 0,
                        hint_term: 0,
                    },
                });
            }
        } else {
            // A follower that received the leader's first entry.
            let term = 2;
            let entries = vec![consensus::Entry {
                term,
                index: 7,
                kind: consensus::EntryKind::Normal,
                data: Bytes::new(),
            }];
            raw.step(Message {
                from: 2,
                to: 1,
                term,
                body: MessageBody::Append {
                    prev_index: 6,
                    prev_term: 1,
                    commit: 7,
                    entries,
                },
            });
        }
        settle(&mut raw);
        let applied = raw.status().applied;
        let conf = raw.applied_conf().clone();
        raw.store_mut().create_snapshot(applied, conf, Bytes::new());
        assert_eq!(raw.store().first_index(), applied + 1);
        nodes.push(raw);
    }
    let bytes = LIVE_BYTES.load(Relaxed) - before - vec_bytes;
    let per_group = bytes as f64 / groups as f64;
    drop(nodes);
    per_group
}

/// Handles every Ready like an application with instant storage.
fn settle(raw: &mut RawNode<MemStorage>) {
    while raw.has_ready() {
        let ready = raw.ready();
        if let Some(s) = ready.snapshot {
            raw.store_mut().apply_snapshot(s);
        }
        raw.store_mut().append(&ready.entries);
        if let Some(hs) = ready.hard_state {
            raw.store_mut().set_hard_state(hs);
        }
        raw.advance();
    }
}

fn main() {
    // `cargo test --benches` runs this with `--bench`-less args; keep it quick.
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    println!("case (median of {runs} runs)             proposals/s wall   proposals/CPU-s   allocations/proposal");
    for (payload, count) in [(1024usize, 20_000u64), (64 * 1024, 2_000)] {
        for use_wire in [false, true] {
            let (mut rates, mut cpu_rates, mut allocs) = (Vec::new(), Vec::new(), Vec::new());
            for run in 0..runs {
                let (r, c, a) = throughput(payload, count, use_wire, run as u64 + 1);
                rates.push(r);
                cpu_rates.push(c);
                allocs.push(a);
            }
            let label = format!(
                "3 nodes, {} KiB, {}",
                payload / 1024,
                if use_wire {
                    "wire codec"
                } else {
                    "baseline: by value"
                }
            );
            println!(
                "{label:<38} {:>12.0} {:>17.0} {:>18.1}",
                median(rates),
                median(cpu_rates),
                median(allocs)
            );
        }
    }
    for leader in [false, true] {
        let per_group = median(
            (0..runs.min(3))
                .map(|_| idle_group_bytes(10_000, leader))
                .collect(),
        );
        println!(
            "idle {} (10,000 groups, MemStorage included): {per_group:.0} bytes per group",
            if leader { "leader  " } else { "follower" }
        );
    }
    println!(
        "size_of RawNode<MemStorage>: {} bytes (the rest of an idle group's bytes are its membership, progress and storage allocations)",
        std::mem::size_of::<RawNode<MemStorage>>()
    );
    let frame = consensus::wire::encode(
        (0..10_000u64)
            .map(|g| consensus::wire::Envelope {
                group: g,
                message: Message {
                    from: 1,
                    to: 2,
                    term: 5,
                    body: MessageBody::Heartbeat {
                        commit: g,
                        read_ctx: 0,
                    },
                },
            })
            .collect(),
    );
    println!(
        "coalesced heartbeat frame for 10,000 groups: {} bytes ({:.1} per group)",
        frame.len(),
        frame.len() as f64 / 10_000.0
    );
}
