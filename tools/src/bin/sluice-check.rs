//! `sluice-check`: see `tools/src/check/mod.rs` and `sluice-check --help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use tools::check::checker;
use tools::check::error::CheckError;
use tools::check::faults::FaultKind;
use tools::check::history::History;
use tools::check::report;
use tools::check::run::{run, RunConfig};
use tools::check::soak::{soak, totals_table};

/// Exit status when the run found anomalies.
const EXIT_ANOMALIES: u8 = 1;
/// Exit status when the run could not be carried out or checked.
const EXIT_ERROR: u8 = 2;

#[derive(Parser)]
#[command(
    name = "sluice-check",
    version,
    about = "Drives a queue workload through faults and checks that nothing acknowledged is lost",
    long_about = "Drives a queue workload through faults and checks that nothing acknowledged is \
                  lost.\n\nExit status: 0 no anomaly, 1 anomalies found, 2 the run could not be \
                  carried out or checked."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start brokers (or attach), run the workload through faults, check it.
    Run(RunArgs),
    /// Re-check a saved history.
    Analyze {
        /// A run's history.jsonl.
        history: PathBuf,
    },
    /// Many short runs over consecutive seeds, then the totals.
    Soak {
        /// How many runs.
        #[arg(long, default_value_t = 200)]
        runs: u32,
        /// Seed of the first run; run i uses seed-base + i.
        #[arg(long, default_value_t = 1)]
        seed_base: u64,
        #[command(flatten)]
        run: RunArgs,
    },
}

#[derive(Args, Clone)]
struct RunArgs {
    /// Nodes to start (only 1 until Sluice can form a cluster).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Seconds of workload under faults (draining and the final read come after).
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Faults, comma-separated: kill, pause, disk-full, slow-disk, partition,
    /// cut-requests, cut-responses, drop, delay, reset; or none.
    #[arg(long, default_value = "kill,pause,disk-full")]
    faults: String,
    /// Seed of the fault schedule (the same seed replays the same faults);
    /// random if not given (and printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Directory for the history, summary, report, plot and the brokers' logs.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The `sluice` binary (default: the one next to sluice-check).
    #[arg(long)]
    sluice_bin: Option<PathBuf>,
    /// Check running brokers instead (HOST:PORT,...); faults must be none.
    #[arg(long, value_delimiter = ',')]
    brokers: Option<Vec<String>>,
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    #[arg(long, default_value_t = 4)]
    producers: u32,
    /// How many of the producers are idempotent (the first ones).
    #[arg(long, default_value_t = 2)]
    idempotent_producers: u32,
    /// Consumers reading every partition from the start.
    #[arg(long, default_value_t = 1)]
    consumers: u32,
    /// Members of the consumer group (commit and resume from commits).
    #[arg(long, default_value_t = 2)]
    group_members: u32,
    /// Values per second over all producers.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Bytes per value (the value text is padded up to this). At the
    /// default rate each partition's 1 MiB segment rolls every 4 s: a full
    /// disk is felt when a segment rolls (the active one is preallocated).
    #[arg(long, default_value_t = 1024)]
    value_bytes: usize,
    /// Shards of each broker (its --cores count).
    #[arg(long, default_value_t = 2)]
    broker_shards: usize,
    /// Keep the brokers' data directories of a passing run too.
    #[arg(long)]
    keep_data: bool,
}

impl RunArgs {
    fn config(&self, out_default: &str) -> Result<RunConfig, CheckError> {
        let faults = FaultKind::parse_list(&self.faults).map_err(CheckError::Usage)?;
        let seed = self.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_000)
        });
        let sluice_bin = self.sluice_bin.clone().unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(|d| d.join("sluice")))
                .unwrap_or_else(|| PathBuf::from("sluice"))
        });
        Ok(RunConfig {
            nodes: self.nodes,
            duration_s: self.duration,
            faults,
            seed,
            out_dir: self
                .out
                .clone()
                .unwrap_or_else(|| PathBuf::from(out_default.replace("{seed}", &seed.to_string()))),
            sluice_bin,
            brokers: self.brokers.clone(),
            partitions: self.partitions,
            producers: self.producers,
            idempotent_producers: self.idempotent_producers,
            assign_consumers: self.consumers,
            group_members: self.group_members,
            rate_per_s: self.rate,
            value_bytes: self.value_bytes,
            broker_shards: self.broker_shards,
            keep_data: self.keep_data,
            verbose: true,
        })
    }
}

fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    // A second Ctrl-C exits at once; the first one ends the run early.
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register_conditional_shutdown(signal, 130, flag.clone());
        let _ = signal_hook::flag::register(signal, flag.clone());
    }
    flag
}

fn main_run(args: RunArgs) -> Result<ExitCode, CheckError> {
    let cfg = args.config("sluice-check-results/seed-{seed}")?;
    eprintln!(
        "sluice-check: seed {}, {} s, faults {}, output in {}",
        cfg.seed,
        cfg.duration_s,
        if cfg.faults.is_empty() {
            "none".into()
        } else {
            cfg.faults
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(",")
        },
        cfg.out_dir.display()
    );
    let outcome = run(&cfg, &interrupt_flag())?;
    print!("{}", report::summary_table(&outcome.analysis));
    for note in &outcome.notes {
        println!("note: {note}");
    }
    println!("report: {}", cfg.out_dir.join("report.txt").display());
    Ok(if outcome.analysis.valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_ANOMALIES)
    })
}

fn main_analyze(path: PathBuf) -> Result<ExitCode, CheckError> {
    let history = History::load(&path)?;
    let analysis = checker::check(&history);
    print!("{}", report::text_report(&history, &analysis, &[]));
    Ok(if analysis.valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_ANOMALIES)
    })
}

fn main_soak(runs: u32, seed_base: u64, args: RunArgs) -> Result<ExitCode, CheckError> {
    let cfg = args.config("sluice-check-soak")?;
    let totals = soak(&cfg, runs, seed_base, &interrupt_flag())?;
    print!("{}", totals_table(&totals));
    Ok(if totals.invalid > 0 {
        ExitCode::from(EXIT_ANOMALIES)
    } else if !totals.errors.is_empty() {
        ExitCode::from(EXIT_ERROR)
    } else {
        ExitCode::SUCCESS
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SLUICE_CHECK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Run(args) => main_run(args),
        Command::Analyze { history } => main_analyze(history),
        Command::Soak {
            runs,
            seed_base,
            run,
        } => main_soak(runs, seed_base, run),
    };
    result.unwrap_or_else(|e| {
        eprintln!("sluice-check: {e}");
        ExitCode::from(EXIT_ERROR)
    })
}
