//! Runs the simulator over a batch of seeds. `SEED=n` replays one seed;
//! `SIM_SEEDS=n` changes how many seeds each test runs (the soak).

use crate::sim::{Sim, SimOptions};

fn seeds(default_count: u64, salt: u64) -> Vec<u64> {
    if let Ok(s) = std::env::var("SEED") {
        return vec![s.parse().expect("SEED must be an integer")];
    }
    let count = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_count);
    let base = std::env::var("SIM_SEED_BASE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0u64);
    (0..count).map(|i| (base + i) * 2 + salt).collect()
}

fn run_batch(voters: usize, default_count: u64, salt: u64) {
    let mut totals = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut reads = 0;
    let seeds = seeds(default_count, salt);
    for &seed in &seeds {
        let mut sim = Sim::new(seed, SimOptions::chaos(voters));
        sim.run();
        totals.0 += sim.stats.committed_proposals;
        totals.1 += sim.stats.leader_changes;
        totals.2 += sim.stats.crashes;
        totals.3 += sim.stats.snapshots_sent;
        totals.4 += sim.stats.conf_changes;
        reads += sim.reads_served;
    }
    eprintln!("{voters} voters, {} seeds: {} proposals committed, {} leader changes, {} crashes, {} snapshots sent, {} membership changes, {reads} reads served", seeds.len(), totals.0, totals.1, totals.2, totals.3, totals.4);
    // The batch must actually exercise the protocol, or it proves nothing.
    if seeds.len() >= 20 {
        assert!(
            totals.0 > 0
                && totals.1 > seeds.len() as u64
                && totals.2 > 0
                && totals.3 > 0
                && totals.4 > 0
                && reads > 0,
            "batch exercised too little: {totals:?}"
        );
    }
}

#[test]
fn sim_three_voters() {
    run_batch(3, 1000, 0);
}

#[test]
fn sim_five_voters() {
    run_batch(5, 1000, 1);
}
