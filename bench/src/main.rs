//! `sluice-bench`: see `bench/src/lib.rs` and `sluice-bench --help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use bench::embedded::{default_binary, EmbeddedBroker};
use bench::report::Outcome;
use bench::run::{run, RunConfig};
use bench::workload::{Overrides, Workload};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sluice-bench",
    version,
    about = "HDR-histogram load generator for Kafka-compatible brokers",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run a workload (the default).
    Run(Box<RunArgs>),
    /// Overlay the percentile curves of several runs and print ratios to the first.
    Compare {
        /// Run output directories (or their summary.json files); the first is the baseline.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Where the comparison plots go.
        #[arg(long, default_value = "sluice-bench-compare")]
        out: PathBuf,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Workload file (TOML); flags override its fields.
    #[arg(long, short)]
    workload: Option<PathBuf>,
    /// Broker to drive (any Kafka-compatible broker).
    #[arg(
        long,
        value_name = "HOST:PORT",
        required_unless_present = "embedded",
        conflicts_with = "embedded"
    )]
    bootstrap: Option<String>,
    /// Start a local Sluice broker with a temporary data dir, run, stop it.
    #[arg(long)]
    embedded: bool,
    /// The `sluice` binary for --embedded (default: next to sluice-bench).
    #[arg(long)]
    sluice_bin: Option<PathBuf>,
    /// CPUs of the embedded broker (its --cores), e.g. `0`.
    #[arg(long)]
    broker_cores: Option<String>,
    /// CPUs for the load generator's workers, e.g. `1` or `0-3` (default: all).
    #[arg(long)]
    cores: Option<String>,
    /// Directory for the results (default: sluice-bench-results/<workload>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Name of the run in reports and plots (default: the workload's name).
    #[arg(long)]
    label: Option<String>,
    /// End the run if nothing is acknowledged or consumed for this long.
    #[arg(long, default_value_t = bench::limits::STALL_SECS_DEFAULT)]
    stall_timeout: u64,
    #[command(flatten)]
    overrides: Overrides,
}

fn parse_cpus(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let bad = || format!("bad CPU list {s:?}: want e.g. 1 or 0,2-3");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (
                    a.trim().parse().map_err(|_| bad())?,
                    b.trim().parse().map_err(|_| bad())?,
                );
                if a > b || b - a > 1024 {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().map_err(|_| bad())?),
        }
    }
    Ok(out)
}

fn run_command(args: RunArgs) -> Result<Outcome, String> {
    let workload = match &args.workload {
        Some(path) => Workload::from_file(path).map_err(|e| e.to_string())?,
        None => Workload::default(),
    };
    let workload = workload
        .with_overrides(&args.overrides)
        .map_err(|e| e.to_string())?;
    let cores = match &args.cores {
        Some(list) => parse_cpus(list)?,
        None => (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect(),
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, interrupted.clone())
            .map_err(|e| format!("signal handler: {e}"))?;
    }
    let broker = if args.embedded {
        let binary = args.sluice_bin.clone().unwrap_or_else(default_binary);
        let b = EmbeddedBroker::start(&binary, args.broker_cores.as_deref())?;
        eprintln!("sluice-bench: embedded broker on {}", b.addr);
        Some(b)
    } else {
        None
    };
    let bootstrap = match (&broker, args.bootstrap) {
        (Some(b), _) => b.addr.to_string(),
        (None, Some(addr)) => addr,
        (None, None) => unreachable!("clap requires --bootstrap without --embedded"),
    };
    let label = args.label.unwrap_or_else(|| workload.name.clone());
    let out_dir = args
        .out
        .unwrap_or_else(|| PathBuf::from("sluice-bench-results").join(&label));
    let summary = run(
        RunConfig {
            workload,
            bootstrap,
            label,
            out_dir,
            cores,
            stall: Duration::from_secs(args.stall_timeout.max(1)),
        },
        interrupted,
    )?;
    drop(broker);
    Ok(summary.outcome)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Compare { runs, out }) => {
            bench::compare::compare(&runs, &out).map(|(text, files)| {
                print!("{text}");
                for f in files {
                    println!("wrote {}", f.display());
                }
                Outcome::Completed
            })
        }
        Some(Command::Run(args)) => run_command(*args),
        None => run_command(cli.run),
    };
    match result {
        Ok(Outcome::Completed) => ExitCode::SUCCESS,
        Ok(Outcome::Interrupted) => ExitCode::from(130),
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("sluice-bench: {e}");
            ExitCode::from(2)
        }
    }
}
