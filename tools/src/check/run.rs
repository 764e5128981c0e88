//! One run, start to verdict: start the nodes (or attach), start the
//! workload, carry out the fault schedule, heal, drain, crash once more if
//! kills are in play, read everything back, stop the nodes, check the
//! history, write the report.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::checker::{self, Analysis};
use super::disk::{self, SmallDisk, Throttle};
use super::error::CheckError;
use super::faults::{self, FaultKind};
use super::history::{History, Recorder, RunInfo, FORMAT_VERSION};
use super::limits;
use super::nemesis::{Nemesis, Target};
use super::nodes::{self, Node};
use super::proxy::Proxy;
use super::report;
use super::workload::{self, Control, WorkloadConfig};

/// Everything `sluice-check run` takes.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub nodes: usize,
    pub duration_s: u64,
    pub faults: Vec<FaultKind>,
    pub seed: u64,
    pub out_dir: PathBuf,
    pub sluice_bin: PathBuf,
    /// Attach to these brokers instead of starting nodes.
    pub brokers: Option<Vec<String>>,
    pub partitions: i32,
    pub producers: u32,
    pub idempotent_producers: u32,
    pub assign_consumers: u32,
    pub group_members: u32,
    pub rate_per_s: u64,
    pub value_bytes: usize,
    pub broker_shards: usize,
    /// Keep the brokers' data directories even when the run passes.
    pub keep_data: bool,
    /// Print faults and progress to stderr as they happen.
    pub verbose: bool,
}

/// What a finished run found.
pub struct RunOutcome {
    pub analysis: Analysis,
    pub history: History,
    pub notes: Vec<String>,
}

impl RunConfig {
    fn check(&self) -> Result<(), CheckError> {
        let usage = |m: String| Err(CheckError::Usage(m));
        if self.duration_s == 0 {
            return usage("--duration must be at least 1 second".into());
        }
        if self.partitions < 1 || self.producers < 1 {
            return usage("--partitions and --producers must be at least 1".into());
        }
        if self.idempotent_producers > self.producers {
            return usage("--idempotent-producers cannot exceed --producers".into());
        }
        if self.brokers.is_some() {
            if !self.faults.is_empty() {
                return usage(
                    "faults need brokers this tool starts itself; with --brokers give \
                     --faults none (and hurt your brokers yourself while it runs)"
                        .into(),
                );
            }
            return Ok(());
        }
        if !self.sluice_bin.exists() {
            return usage(format!(
                "{} not found: build it (`cargo build --bin sluice`) or pass --sluice-bin",
                self.sluice_bin.display()
            ));
        }
        if self.faults.iter().any(|f| f.needs_small_disk()) {
            if let Some(why) = disk::unavailable() {
                return usage(why);
            }
        }
        if self.faults.contains(&FaultKind::SlowDisk) {
            if let Some(why) = disk::throttle_unavailable() {
                return usage(why);
            }
        }
        Ok(())
    }

    fn workload(&self, bootstrap: Vec<String>, topic: String) -> WorkloadConfig {
        WorkloadConfig {
            bootstrap,
            topic,
            partitions: self.partitions,
            producers: self.producers,
            idempotent_producers: self.idempotent_producers,
            assign_consumers: self.assign_consumers,
            group_members: self.group_members,
            group: "sluice-check".into(),
            rate_per_s: self.rate_per_s,
            value_bytes: self.value_bytes,
            seed: self.seed,
            request_timeout: limits::REQUEST_TIMEOUT,
        }
    }
}

/// The data file system of a node in a run with disk faults: twice what
/// the producers write (values, record overhead, offsets), at least
/// [`limits::SMALL_DISK_MIB_MIN`].
fn small_disk_mib(cfg: &RunConfig) -> u64 {
    let written = cfg.rate_per_s * (cfg.value_bytes as u64 + 64) * cfg.duration_s;
    ((2 * written) >> 20).max(limits::SMALL_DISK_MIB_MIN)
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Starts every node (on a small disk of its own if the run has disk
/// faults) and its proxy.
fn start_targets(cfg: &RunConfig) -> Result<Vec<Target>, CheckError> {
    let mut targets = Vec::new();
    for spec in nodes::plan(cfg.nodes, &cfg.out_dir, cfg.broker_shards)? {
        let (id, dir, data_dir) = (spec.id, spec.dir.clone(), spec.data_dir());
        let (listen, advertise) = (spec.listen, spec.advertise);
        let mut node = Node::new(spec, &cfg.sluice_bin)?;
        let disk = if cfg.faults.iter().any(|f| f.needs_small_disk()) {
            Some(SmallDisk::create(
                id,
                &dir.join("disk.img"),
                &data_dir,
                small_disk_mib(cfg),
            )?)
        } else {
            None
        };
        if cfg.faults.contains(&FaultKind::SlowDisk) {
            node.throttle = Some(Throttle::create(id, &data_dir)?);
        }
        node.start()?;
        let proxy = Proxy::start(advertise, listen)?;
        targets.push(Target { node, proxy, disk });
    }
    Ok(targets)
}

/// Runs one check; `interrupted` (Ctrl-C) ends the fault schedule early,
/// and the run still drains, reads back and checks what it did.
pub fn run(cfg: &RunConfig, interrupted: &AtomicBool) -> Result<RunOutcome, CheckError> {
    cfg.check()?;
    std::fs::create_dir_all(&cfg.out_dir).map_err(CheckError::io(format!(
        "creating {}",
        cfg.out_dir.display()
    )))?;
    let history_path = cfg.out_dir.join("history.jsonl");
    if history_path.exists() {
        return Err(CheckError::Usage(format!(
            "{} already holds a run; give --out a new directory",
            cfg.out_dir.display()
        )));
    }
    let schedule = faults::schedule(cfg.seed, cfg.duration_s, &cfg.faults, cfg.nodes);
    let mut targets = match &cfg.brokers {
        Some(_) => Vec::new(),
        None => start_targets(cfg)?,
    };
    let (bootstrap, topic) = match &cfg.brokers {
        Some(brokers) => (brokers.clone(), format!("sluice-check-{}", unix_ms())),
        None => (
            targets.iter().map(|t| t.proxy.addr.to_string()).collect(),
            "sluice-check".to_string(),
        ),
    };
    let info = RunInfo {
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        seed: cfg.seed,
        nodes: if cfg.brokers.is_some() { 0 } else { cfg.nodes },
        topic: topic.clone(),
        partitions: cfg.partitions,
        faults: cfg.faults.iter().map(|k| k.name().to_string()).collect(),
        duration_s: cfg.duration_s,
        started_unix_ms: unix_ms(),
    };
    let recorder = Arc::new(
        Recorder::create(&history_path, &info, Instant::now()).map_err(CheckError::io(format!(
            "creating {}",
            history_path.display()
        )))?,
    );
    let workload_config = cfg.workload(bootstrap, topic);
    let mut notes = Vec::new();
    let result = drive(
        cfg,
        &schedule,
        &mut targets,
        &recorder,
        &workload_config,
        interrupted,
        &mut notes,
    );
    for target in &mut targets {
        if !target.node.stop() {
            notes.push(format!(
                "node {} did not shut down cleanly on SIGTERM (log: {})",
                target.node.spec.id,
                target.node.log_path().display()
            ));
        }
    }
    recorder
        .flush()
        .map_err(CheckError::io("writing the history"))?;
    if let Err(e) = result {
        // The history so far, what it shows, and the brokers' logs stay.
        notes.push(format!("the run stopped early: {e}"));
        if let Ok(history) = History::load(&history_path) {
            let _ = report::write(&cfg.out_dir, &history, &checker::check(&history), &notes);
        }
        for target in &mut targets {
            if let Some(disk) = &mut target.disk {
                disk.unmount(false);
            }
        }
        return Err(e);
    }
    let history = History::load(&history_path)?;
    let analysis = checker::check(&history);
    report::write(&cfg.out_dir, &history, &analysis, &notes)?;
    let title = format!(
        "sluice-check seed {}: {}",
        cfg.seed,
        if analysis.valid() { "valid" } else { "INVALID" }
    );
    super::plot::timeline_plot(&cfg.out_dir, &title, &report::timeline(&history))?;
    let discard = analysis.valid() && !cfg.keep_data;
    for target in &mut targets {
        if let Some(disk) = &mut target.disk {
            disk.unmount(discard);
        }
        if discard {
            let _ = std::fs::remove_dir_all(target.node.spec.data_dir());
        }
    }
    Ok(RunOutcome {
        analysis,
        history,
        notes,
    })
}

/// The part of a run between starting the nodes and stopping them.
fn drive(
    cfg: &RunConfig,
    schedule: &[faults::PlannedFault],
    targets: &mut [Target],
    recorder: &Arc<Recorder>,
    workload_config: &WorkloadConfig,
    interrupted: &AtomicBool,
    notes: &mut Vec<String>,
) -> Result<(), CheckError> {
    let control = Arc::new(Control::default());
    let handle = workload::run(workload_config.clone(), recorder.clone(), control.clone())
        .map_err(CheckError::io("starting the workload thread"))?;
    let setup_deadline = Instant::now() + limits::SETUP_TIMEOUT + Duration::from_secs(5);
    while !control.ready.load(Ordering::Relaxed) {
        if handle.is_finished() || Instant::now() > setup_deadline {
            control.draining.store(true, Ordering::Relaxed);
            let why = match handle.join() {
                Ok(Err(e)) => e,
                Ok(Ok(())) => "the workload ended before it started".into(),
                Err(_) => "the workload thread panicked".into(),
            };
            return Err(CheckError::Workload(why));
        }
        std::thread::sleep(limits::CONTROL_POLL);
    }
    let progress = cfg
        .verbose
        .then(|| spawn_progress(recorder.clone(), control.clone()));
    let mut nemesis = Nemesis {
        targets,
        recorder,
        interrupted,
        verbose: cfg.verbose,
    };
    let faults_done = nemesis.run(schedule, Duration::from_secs(cfg.duration_s));
    let healed = nemesis.heal_all();
    control.draining.store(true, Ordering::Relaxed);
    let workload_result = handle.join();
    if let Some((stop, thread)) = progress {
        stop.store(true, Ordering::Relaxed);
        let _ = thread.join();
    }
    faults_done?;
    healed?;
    match workload_result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(CheckError::Workload(e)),
        Err(_) => return Err(CheckError::Workload("the workload thread panicked".into())),
    }
    if cfg.faults.contains(&FaultKind::Kill) && !interrupted.load(Ordering::Relaxed) {
        nemesis.final_crash()?;
    }
    if cfg.verbose {
        eprintln!("sluice-check: reading every partition back");
    }
    workload::final_read(workload_config.clone(), recorder.clone())
        .map_err(CheckError::Workload)?;
    if interrupted.load(Ordering::Relaxed) {
        notes.push("interrupted: the fault schedule was cut short".into());
    }
    Ok(())
}

/// Prints a progress line every few seconds until told to stop.
fn spawn_progress(
    recorder: Arc<Recorder>,
    control: Arc<Control>,
) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut next = Instant::now() + limits::PROGRESS_INTERVAL;
        while !flag.load(Ordering::Relaxed) {
            std::thread::sleep(limits::CONTROL_POLL);
            if Instant::now() < next {
                continue;
            }
            next += limits::PROGRESS_INTERVAL;
            eprintln!(
                "sluice-check: {:>7.1}s {} values acknowledged, {} records read, {} sends \
                 failed or unknown",
                recorder.now_us() as f64 / 1e6,
                control.values_acknowledged.load(Ordering::Relaxed),
                control.records_read.load(Ordering::Relaxed),
                control.sends_unknown.load(Ordering::Relaxed)
            );
        }
    });
    (stop, thread)
}
