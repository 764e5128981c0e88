//! The coordinator: plans workers, starts them on pinned executors, merges
//! their interval snapshots, watches for stalls and Ctrl-C, and writes the
//! results.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use glommio::{LocalExecutorBuilder, Placement};
use net::client::{Client, ClientConfig};

use crate::limits;
use crate::plot::{percentile_plot, throughput_plot, Curve};
use crate::report::{
    format_table, write_files, IntervalLog, IntervalSummary, Outcome, RunSummary, Throughput,
    INTERVAL_LOG_FILE,
};
use crate::stats::{Counts, Latencies, Metric, Percentiles, Snapshot};
use crate::worker::{run_worker, ConsumerSpec, Control, ProducerSpec, WorkerPlan};
use crate::workload::{ConsumerAssignment, Workload};

pub struct RunConfig {
    pub workload: Workload,
    pub bootstrap: String,
    pub label: String,
    pub out_dir: PathBuf,
    /// CPUs for the workers (one executor each).
    pub cores: Vec<usize>,
    pub stall: Duration,
}

/// After Ctrl-C, how long in-flight messages may still be acknowledged and
/// consumed before the run ends regardless.
const INTERRUPT_GRACE: Duration = Duration::from_secs(3);

/// Glommio's per-executor I/O buffer: the client does no file I/O, so a
/// small one avoids pinning memory for nothing.
const IO_MEMORY_BYTES: usize = 512 * 1024;

/// Splits producers and consumers among workers round-robin. A consumer
/// group's partitions are assigned statically, consumer `c` reading
/// partitions `c, c + n, ...`.
fn plan(
    w: &Workload,
    bootstrap: &str,
    workers: usize,
    request_timeout: Duration,
    group_suffix: u64,
) -> Vec<WorkerPlan> {
    let produce_until_ns = if w.messages.is_some() {
        None
    } else {
        Some((w.warmup_secs + w.duration_secs) * 1_000_000_000)
    };
    let mut plans: Vec<WorkerPlan> = (0..workers)
        .map(|index| WorkerPlan {
            index,
            bootstrap: bootstrap.to_string(),
            workload: w.clone(),
            producers: vec![],
            consumers: vec![],
            produce_until_ns,
            request_timeout,
            group_suffix,
        })
        .collect();
    let producers = w.producers() as u64;
    for i in 0..w.producers() {
        let quota = w
            .messages
            .map(|m| m / producers + u64::from((i as u64) < m % producers));
        plans[i as usize % workers].producers.push(ProducerSpec {
            index: i,
            topic: i / w.producers_per_topic,
            quota,
        });
    }
    let mut slot = w.producers() as usize;
    for topic in 0..w.topics {
        for group in 0..w.consumer_groups {
            for c in 0..w.consumers_per_group {
                let partitions: Vec<i32> = (c..w.partitions_per_topic)
                    .step_by(w.consumers_per_group as usize)
                    .map(|p| p as i32)
                    .collect();
                // Group mode: the coordinator assigns, and a member without
                // partitions still joins (and idles), as in Kafka.
                let partitions = match w.consumer_assignment {
                    ConsumerAssignment::Group => Vec::new(),
                    ConsumerAssignment::Static if partitions.is_empty() => continue,
                    ConsumerAssignment::Static => partitions,
                };
                plans[slot % workers].consumers.push(ConsumerSpec {
                    topic,
                    group,
                    partitions,
                });
                slot += 1;
            }
        }
    }
    plans
}

/// Creates the topics on one short-lived executor; fails fast when the
/// broker cannot be reached.
fn prepare(w: &Workload, bootstrap: &str, request_timeout: Duration) -> Result<(), String> {
    let (w, bootstrap) = (w.clone(), bootstrap.to_string());
    LocalExecutorBuilder::new(Placement::Unbound)
        .name("bench-setup")
        .io_memory(IO_MEMORY_BYTES)
        .spawn(move || async move {
            let mut config = ClientConfig::new(bootstrap.clone());
            config.request_timeout = request_timeout;
            let client = Client::connect(config).await.map_err(|e| e.to_string())?;
            let topics: Vec<(String, i32)> = (0..w.topics).map(|t| (w.topic_name(t), w.partitions_per_topic as i32)).collect();
            client.create_topics(&topics, Duration::from_secs(30)).await.map_err(|e| e.to_string())?;
            for (name, partitions) in &topics {
                let have = client.partition_count(name).unwrap_or(0);
                if have != *partitions as usize {
                    return Err(format!("topic {name} exists with {have} partitions, the workload needs {partitions}"));
                }
            }
            Ok(())
        })
        .map_err(|e| format!("cannot start an executor: {e}"))?
        .join()
        .map_err(|e| format!("setup executor failed: {e}"))?
}

/// Merges snapshots into intervals and totals.
struct Aggregator {
    workers: usize,
    warmup_secs: u64,
    latest: Vec<Option<u64>>,
    done: Vec<bool>,
    pending: BTreeMap<u64, (Latencies, Counts)>,
    measured: Latencies,
    counts: Counts,
    measured_counts: Counts,
    intervals: Vec<IntervalSummary>,
    log: Option<IntervalLog>,
}

impl Aggregator {
    fn add(&mut self, s: Snapshot) -> Vec<IntervalSummary> {
        let entry = self.pending.entry(s.interval).or_default();
        entry.0.merge(&s.latencies);
        entry.1.merge(&s.counts);
        self.latest[s.worker] = Some(s.interval);
        self.done[s.worker] |= s.last;
        self.finalize(false)
    }

    fn finalize(&mut self, all: bool) -> Vec<IntervalSummary> {
        let complete_up_to = if all {
            u64::MAX
        } else {
            (0..self.workers)
                .map(|w| {
                    if self.done[w] {
                        u64::MAX
                    } else {
                        self.latest[w].map_or(0, |i| i + 1)
                    }
                })
                .min()
                .unwrap_or(0)
        };
        let ready: Vec<u64> = self
            .pending
            .range(..complete_up_to)
            .map(|(k, _)| *k)
            .collect();
        let mut out = Vec::new();
        for second in ready {
            let (lat, counts) = self.pending.remove(&second).expect("listed above");
            let warmup = second < self.warmup_secs;
            if !warmup {
                self.measured.merge(&lat);
                self.measured_counts.merge(&counts);
            }
            self.counts.merge(&counts);
            if let Some(log) = &mut self.log {
                if let Err(e) = log.write(second, &lat) {
                    eprintln!("sluice-bench: interval log: {e}; no longer written");
                    self.log = None;
                }
            }
            let summary = IntervalSummary {
                second,
                warmup,
                acked_messages: counts.acked_messages,
                acked_bytes: counts.acked_bytes,
                consumed_messages: counts.consumed_messages,
                consumed_bytes: counts.consumed_bytes,
                errors: counts.errors.values().sum(),
                produce: Percentiles::of(lat.get(Metric::Produce)),
                end_to_end: Percentiles::of(lat.get(Metric::EndToEnd)),
            };
            if self.intervals.len() < limits::INTERVALS_MAX {
                self.intervals.push(summary.clone());
            }
            out.push(summary);
        }
        out
    }
}

fn interval_line(i: &IntervalSummary) -> String {
    format!(
        "{:>4}s{} produce {:>9} msg/s {:>8.2} MB/s p99 {:>8.3} ms | consume {:>9} msg/s e2e p99 {:>8.3} ms{}",
        i.second,
        if i.warmup { "*" } else { " " },
        i.acked_messages,
        i.acked_bytes as f64 / 1e6,
        i.produce.p99_us as f64 / 1000.0,
        i.consumed_messages,
        i.end_to_end.p99_us as f64 / 1000.0,
        if i.errors > 0 { format!(" errors {}", i.errors) } else { String::new() }
    )
}

/// Runs the workload; `interrupted` is set by the Ctrl-C handler.
pub fn run(cfg: RunConfig, interrupted: Arc<AtomicBool>) -> Result<RunSummary, String> {
    let w = cfg.workload.clone();
    std::fs::create_dir_all(&cfg.out_dir).map_err(|e| format!("{}: {e}", cfg.out_dir.display()))?;
    prepare(&w, &cfg.bootstrap, cfg.stall)?;

    let workers = cfg
        .cores
        .len()
        .min((w.producers() + w.consumers()) as usize)
        .max(1);
    let plans = plan(
        &w,
        &cfg.bootstrap,
        workers,
        cfg.stall,
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64,
    );
    let control = Arc::new(Control {
        origin: OnceLock::new(),
        stop: AtomicBool::new(false),
        stop_consumers: AtomicBool::new(false),
        producers_running: AtomicUsize::new(w.producers() as usize),
        acked_per_topic: (0..w.topics).map(|_| AtomicU64::new(0)).collect(),
        consumed_per_group: (0..w.topics * w.consumer_groups)
            .map(|_| AtomicU64::new(0))
            .collect(),
        fatal: Mutex::new(None),
        last_error: Mutex::new(None),
        ready: Barrier::new(workers),
    });
    let (tx, rx) = sync_channel::<Snapshot>(limits::SNAPSHOT_QUEUE_MAX * workers);
    // Each worker is joined by a watcher thread that counts it out, so the
    // coordinator notices a worker that died (a bug) instead of waiting for
    // its snapshots forever.
    let exited = Arc::new(AtomicUsize::new(0));
    let mut watchers = Vec::new();
    for (plan, &cpu) in plans.into_iter().zip(&cfg.cores) {
        let (control, tx) = (control.clone(), tx.clone());
        let handle = LocalExecutorBuilder::new(Placement::Fixed(cpu))
            .name(&format!("bench-worker-{}", plan.index))
            .io_memory(IO_MEMORY_BYTES)
            .spawn(move || run_worker(plan, control, tx))
            .map_err(|e| format!("cannot start a worker on CPU {cpu}: {e}"))?;
        let exited = exited.clone();
        watchers.push(std::thread::spawn(move || {
            let result = handle.join().map_err(|e| e.to_string());
            exited.fetch_add(1, Ordering::SeqCst);
            result
        }));
    }
    drop(tx);

    let mut agg = Aggregator {
        workers,
        warmup_secs: w.warmup_secs,
        latest: vec![None; workers],
        done: vec![false; workers],
        pending: BTreeMap::new(),
        measured: Latencies::default(),
        counts: Counts::default(),
        measured_counts: Counts::default(),
        intervals: Vec::new(),
        log: None,
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(Duration::from_millis(200));
        b
    });
    let mut outcome = Outcome::Completed;
    let mut last_progress = (0u64, Instant::now());
    let mut end_of_production: Option<Instant> = None;
    let mut interrupted_at: Option<Instant> = None;
    let mut log_failed = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(s) => {
                // The first snapshot comes after the workers fixed the origin.
                if agg.log.is_none() && !log_failed {
                    let path = cfg.out_dir.join(INTERVAL_LOG_FILE);
                    match IntervalLog::create(
                        &path,
                        control.origin().1,
                        &format!("sluice-bench {}", cfg.label),
                    ) {
                        Ok(log) => agg.log = Some(log),
                        Err(e) => {
                            eprintln!("sluice-bench: interval log {}: {e}", path.display());
                            log_failed = true;
                        }
                    }
                }
                for i in agg.add(s) {
                    match &bar {
                        Some(b) => b.set_message(interval_line(&i)),
                        None => eprintln!("{}", interval_line(&i)),
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                if exited.load(Ordering::SeqCst) == workers {
                    while let Ok(s) = rx.try_recv() {
                        agg.add(s);
                    }
                    break;
                }
            }
        }
        let progress = agg.counts.acked_messages
            + agg.counts.consumed_messages
            + agg
                .pending
                .values()
                .map(|(_, c)| c.acked_messages + c.consumed_messages)
                .sum::<u64>();
        if progress != last_progress.0 {
            last_progress = (progress, Instant::now());
        }
        if end_of_production.is_none() && control.producers_running.load(Ordering::SeqCst) == 0 {
            end_of_production = Some(Instant::now());
        }
        if interrupted_at.is_some_and(|t| t.elapsed() > INTERRUPT_GRACE) {
            control.stop_consumers.store(true, Ordering::SeqCst);
        }
        if outcome == Outcome::Completed {
            if interrupted.load(Ordering::SeqCst) {
                // Stop producing; what is in flight still gets a short grace
                // so that the counts match what the broker holds.
                outcome = Outcome::Interrupted;
                interrupted_at = Some(Instant::now());
                control.stop.store(true, Ordering::SeqCst);
            } else if last_progress.1.elapsed() >= cfg.stall {
                let why = control.last_error.lock().expect("not poisoned").clone();
                outcome = Outcome::Stalled(format!(
                    "no message acknowledged or consumed for {} s{}",
                    cfg.stall.as_secs(),
                    why.map(|e| format!(" (last error: {e})"))
                        .unwrap_or_default()
                ));
                control.stop.store(true, Ordering::SeqCst);
                control.stop_consumers.store(true, Ordering::SeqCst);
            } else if end_of_production
                .is_some_and(|t| t.elapsed() > Duration::from_secs(limits::DRAIN_SECS_DEFAULT))
            {
                // Consumers could not read everything back in time.
                control.stop_consumers.store(true, Ordering::SeqCst);
            }
        }
    }
    for w in watchers {
        match w.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => control.fail(format!("a worker failed: {e}")),
            Err(_) => control.fail("a worker's watcher panicked".into()),
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    agg.finalize(true);
    if let Some(log) = agg.log.take() {
        log.finish().map_err(|e| format!("interval log: {e}"))?;
    }
    if outcome == Outcome::Completed {
        if let Some(e) = control.fatal.lock().expect("not poisoned").clone() {
            outcome = Outcome::Failed(e);
        }
    }

    let run_end = end_of_production.unwrap_or_else(Instant::now);
    let measured_secs =
        (run_end.duration_since(control.origin().0).as_secs_f64() - w.warmup_secs as f64).max(0.0);
    let rate = |n: u64| {
        if measured_secs > 0.0 {
            n as f64 / measured_secs
        } else {
            0.0
        }
    };
    let mc = &agg.measured_counts;
    let mut summary = RunSummary {
        label: cfg.label.clone(),
        target: cfg.bootstrap.clone(),
        open_loop: w.rate.is_some(),
        workload: w.clone(),
        outcome,
        started_unix_ms: control
            .origin()
            .1
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64,
        measured_secs,
        counts: agg.counts.clone(),
        measured_counts: mc.clone(),
        throughput: Throughput {
            produce_messages_per_sec: rate(mc.acked_messages),
            produce_mb_per_sec: rate(mc.acked_bytes) / 1e6,
            consume_messages_per_sec: rate(mc.consumed_messages),
            consume_mb_per_sec: rate(mc.consumed_bytes) / 1e6,
        },
        latency: Default::default(),
        curves: Default::default(),
        clamped_samples: 0,
        intervals: agg.intervals.clone(),
        files: vec![],
    };
    summary.fill_latency(&agg.measured);

    let mut files = vec![cfg.out_dir.join(INTERVAL_LOG_FILE)];
    let curves: Vec<Curve> = summary
        .curves
        .iter()
        .map(|(m, pts)| Curve {
            label: m.name().to_string(),
            points: pts,
        })
        .collect();
    let title = format!("{}: latency by percentile", cfg.label);
    match percentile_plot(&cfg.out_dir, "latency", &title, &curves) {
        Ok(f) => files.extend(f),
        Err(e) => eprintln!("sluice-bench: percentile plot: {e}"),
    }
    match throughput_plot(
        &cfg.out_dir,
        "throughput",
        &format!("{}: throughput", cfg.label),
        &summary.intervals,
    ) {
        Ok(f) => files.extend(f),
        Err(e) => eprintln!("sluice-bench: throughput plot: {e}"),
    }
    let mut names: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    for m in Metric::ALL {
        if summary.latency.contains_key(&m) {
            names.push(crate::report::hgrm_file(m));
        }
    }
    names.push(crate::report::SUMMARY_FILE.to_string());
    names.sort();
    summary.files = names;
    write_files(&cfg.out_dir, &summary, &agg.measured)
        .map_err(|e| format!("writing results: {e}"))?;
    print!("{}", format_table(&summary));
    println!("results in {}", cfg.out_dir.display());
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Overrides;

    #[test]
    fn plan_spreads_tasks_and_partitions() {
        let w = Workload::default()
            .with_overrides(&Overrides {
                partitions: Some(10),
                producers: Some(4),
                consumers: Some(3),
                messages: Some(10),
                consumer_assignment: Some(ConsumerAssignment::Static),
                ..Default::default()
            })
            .unwrap();
        let plans = plan(&w, "x:1", 2, Duration::from_secs(1), 7);
        let quotas: Vec<u64> = plans
            .iter()
            .flat_map(|p| p.producers.iter().map(|s| s.quota.unwrap()))
            .collect();
        assert_eq!(quotas.iter().sum::<u64>(), 10);
        let mut parts: Vec<i32> = plans
            .iter()
            .flat_map(|p| p.consumers.iter().flat_map(|c| c.partitions.clone()))
            .collect();
        parts.sort();
        assert_eq!(
            parts,
            (0..10).collect::<Vec<_>>(),
            "every partition read exactly once per group"
        );
        assert_eq!(plans[0].producers.len() + plans[0].consumers.len(), 4);
        assert_eq!(plans[1].producers.len() + plans[1].consumers.len(), 3);
        // In group mode the broker assigns: every member is planned, even
        // one that will get no partition.
        let grouped = Workload {
            consumer_assignment: ConsumerAssignment::Group,
            consumers_per_group: 12,
            ..w
        };
        let plans = plan(&grouped, "x:1", 2, Duration::from_secs(1), 7);
        let members: Vec<&ConsumerSpec> = plans.iter().flat_map(|p| &p.consumers).collect();
        assert_eq!(members.len(), 12);
        assert!(members.iter().all(|c| c.partitions.is_empty()));
        assert!(plans.iter().all(|p| p.group_suffix == 7));
    }

    #[test]
    fn intervals_complete_only_when_every_worker_reported() {
        let mut agg = Aggregator {
            workers: 2,
            warmup_secs: 1,
            latest: vec![None; 2],
            done: vec![false; 2],
            pending: BTreeMap::new(),
            measured: Latencies::default(),
            counts: Counts::default(),
            measured_counts: Counts::default(),
            intervals: vec![],
            log: None,
        };
        let snap = |worker, interval, acked, last| {
            let mut s = Snapshot {
                worker,
                interval,
                last,
                ..Default::default()
            };
            s.counts.acked_messages = acked;
            s.latencies.record(Metric::Produce, 100 * acked);
            s
        };
        assert!(agg.add(snap(0, 0, 1, false)).is_empty());
        let done = agg.add(snap(1, 0, 2, false));
        assert_eq!(done.len(), 1);
        assert_eq!(
            (done[0].second, done[0].acked_messages, done[0].warmup),
            (0, 3, true)
        );
        agg.add(snap(0, 1, 4, false));
        let done = agg.add(snap(1, 1, 8, true));
        assert_eq!(
            done.len(),
            1,
            "worker 1 is done; worker 0 reported interval 1"
        );
        assert_eq!(agg.measured_counts.acked_messages, 12, "warm-up excluded");
        assert_eq!(agg.counts.acked_messages, 15);
        assert_eq!(agg.measured.get(Metric::Produce).len(), 2);
    }
}
