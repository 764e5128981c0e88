//! Process-wide shutdown: a signal thread flips a flag; every shard polls it
//! on a timer and then runs its part of the reverse start-up sequence. Phase
//! barriers make the shards finish one step together before the next (all
//! connections drained before any shard closes its logs, so that no
//! cross-shard call reaches a closed shard).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::limits;

#[derive(Debug)]
pub struct Shutdown {
    requested: AtomicBool,
    shard_count: usize,
    /// One counter per barrier, indexed by [`Phase`].
    arrived: [AtomicUsize; Phase::COUNT],
}

/// The points where all shards wait for each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Every shard has recovered its partitions: cross-shard calls may start.
    Recovered = 0,
    /// Every shard has stopped its connections: no new cross-shard calls.
    Drained = 1,
    /// Every shard has closed its logs.
    Closed = 2,
}

impl Phase {
    const COUNT: usize = 3;
}

impl Shutdown {
    pub fn new(shard_count: usize) -> Arc<Self> {
        Arc::new(Self {
            requested: AtomicBool::new(false),
            shard_count,
            arrived: Default::default(),
        })
    }

    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }

    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Completes once shutdown has been requested.
    pub async fn wait_requested(&self) {
        while !self.is_requested() {
            glommio::timer::sleep(Duration::from_millis(limits::SHUTDOWN_POLL_MS)).await;
        }
    }

    /// Waits until every shard reached `phase`. Polls instead of blocking the
    /// thread, because a shard waiting here must keep serving calls from
    /// shards that have not arrived yet.
    pub async fn barrier(&self, phase: Phase) {
        let counter = &self.arrived[phase as usize];
        counter.fetch_add(1, Ordering::SeqCst);
        while counter.load(Ordering::SeqCst) < self.shard_count {
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread it
/// spawns later) and starts a thread that turns them into a shutdown request.
/// A second signal exits at once.
pub fn install_signal_thread(shutdown: Arc<Shutdown>) -> std::io::Result<()> {
    // SAFETY: plain libc signal-set manipulation on a local set.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        set
    };
    std::thread::Builder::new()
        .name("sluice-signals".into())
        .spawn(move || loop {
            let mut signal: libc::c_int = 0;
            // SAFETY: `set` is initialised and `signal` is a valid out-pointer.
            let rc = unsafe { libc::sigwait(&set, &mut signal) };
            if rc != 0 {
                continue;
            }
            if shutdown.is_requested() {
                tracing::warn!(signal, "second signal: exiting without a clean shutdown");
                std::process::exit(130);
            }
            tracing::info!(signal, "shutdown requested");
            shutdown.request();
        })?;
    Ok(())
}
