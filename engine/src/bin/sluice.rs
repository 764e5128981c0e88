//! `sluice`: starts a broker. See `sluice --help` and README.md.

use clap::Parser;
use engine::config::{Cli, Config};
use engine::shutdown::{install_signal_thread, Shutdown};

/// glommio takes its DMA memory from the global allocator; this one backs
/// it with huge pages (see `storage::io::hugepage` for why).
#[global_allocator]
static ALLOC: storage::io::hugepage::HugePageAlloc = storage::io::hugepage::HugePageAlloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let cpus: Vec<usize> = match core_affinity::get_core_ids() {
        Some(ids) if !ids.is_empty() => ids.into_iter().map(|c| c.id).collect(),
        _ => (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect(),
    };
    let config = match Config::load(&cli, &cpus) {
        Ok(c) => c,
        Err(e) => {
            report(&format!("sluice: configuration error: {e}"));
            return std::process::ExitCode::from(2);
        }
    };
    init_tracing(config.log_level.as_deref());

    let shutdown = Shutdown::new(config.shards.len());
    if let Err(e) = install_signal_thread(shutdown.clone()) {
        tracing::error!(error = %e, "cannot install signal handling");
        return std::process::ExitCode::FAILURE;
    }
    match engine::bootstrap::run(config, shutdown) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `--log-level` / the `log_level` key win; otherwise `SLUICE_LOG`, then `info`.
fn init_tracing(level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(l) => EnvFilter::try_new(l).unwrap_or_else(|e| {
            report(&format!(
                "sluice: invalid log filter {l:?} ({e}); using info"
            ));
            EnvFilter::new("info")
        }),
        None => EnvFilter::try_from_env("SLUICE_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
    };
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        // A log line that cannot be written (the log file's disk is full)
        // is dropped. Otherwise tracing reports the failure with eprintln!,
        // which panics when stderr is that same failing file.
        .log_internal_errors(false)
        .init();
}

/// Writes a line to stderr if it can: an unwritable stderr (a full disk)
/// must not stop the broker.
fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
