//! The broker's life: one ordered start-up sequence, and the same steps in
//! reverse on SIGINT/SIGTERM.
//!
//! Start-up: configuration (already validated by the caller) → io memory fit
//! → one pinned executor per shard → cross-shard mesh → catalogue replica and
//! storage recovery per shard → barrier → listeners. Shutdown: stop accepting
//! → finish in-flight requests → barrier → sync and close every log → exit.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::{LocalExecutorBuilder, Placement as CpuPlacement};

use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::mesh::{self, MeshEnds};
use crate::placement::Placement;
use crate::shard::Shard;
use crate::shutdown::{Phase, Shutdown};
use crate::{limits, memlock};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read the topic catalogue: {0}")]
    Catalogue(std::io::Error),
    #[error("cannot start shard {shard} on CPU {cpu}: {message}")]
    Executor {
        shard: usize,
        cpu: usize,
        message: String,
    },
    #[error("shard {shard} failed: {message}")]
    Shard { shard: usize, message: String },
}

/// Runs the broker until shutdown is requested and completed.
pub fn run(config: Config, shutdown: Arc<Shutdown>) -> Result<(), StartError> {
    let started = Instant::now();
    let config = Arc::new(config);
    tracing::info!(
        listen = %config.listen,
        advertise = %format!("{}:{}", config.advertise_host, config.advertise_port),
        data_dir = %config.data_dir.display(),
        shards = config.shards.len(),
        cpus = ?config.shards.iter().map(|s| s.cpu).collect::<Vec<_>>(),
        fsync = ?config.log.fsync,
        "step 1/4: configuration loaded"
    );

    // Reads SLUICE_TEST_FAULT once and warns loudly if it is set.
    crate::partition::test_fault_drops_this_write();
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    // Read once here so that a damaged catalogue stops the broker before any
    // executor starts.
    let catalogue = Catalogue::load(&config.data_dir).map_err(StartError::Catalogue)?;
    tracing::info!(topics = catalogue.topics.len(), "catalogue read");

    let requested: Vec<usize> = config.shards.iter().map(|s| s.io_memory_bytes).collect();
    let io_plan = memlock::plan(&requested, memlock::memlock_limit_bytes());
    tracing::info!(
        io_memory_per_shard_bytes = ?io_plan.per_shard_bytes,
        "step 2/4: io memory: {}",
        io_plan.reason
    );

    match storage::io::hugepage::transparent_huge_pages_mode().as_deref() {
        Some(mode @ ("always" | "madvise")) => {
            tracing::info!(transparent_huge_pages = mode, "DMA memory in huge pages")
        }
        mode => tracing::warn!(
            transparent_huge_pages = ?mode,
            "transparent huge pages are off: DMA memory uses 4 KiB pages and large writes \
             are split (slower); set /sys/kernel/mm/transparent_hugepage/enabled to madvise"
        ),
    }

    let shard_count = config.shards.len();
    let ends = mesh::build::<Shard>(shard_count, limits::CROSS_SHARD_CHANNEL_CAPACITY);
    let mut handles = Vec::with_capacity(shard_count);
    for (ends, (tuning, io_memory)) in ends
        .into_iter()
        .zip(config.shards.iter().zip(io_plan.per_shard_bytes))
    {
        let shard_id = ends.shard;
        let config = config.clone();
        let shutdown = shutdown.clone();
        let catalogue = catalogue.clone();
        let handle = LocalExecutorBuilder::new(CpuPlacement::Fixed(tuning.cpu))
            .name(&format!("sluice-shard-{shard_id}"))
            .io_memory(io_memory)
            .spawn(move || run_shard(ends, config, shutdown, catalogue))
            .map_err(|e| StartError::Executor {
                shard: shard_id,
                cpu: tuning.cpu,
                message: e.to_string(),
            })?;
        handles.push(handle);
    }

    let mut failure = None;
    for (shard, handle) in handles.into_iter().enumerate() {
        let result = match handle.join() {
            Ok(Ok(())) => continue,
            Ok(Err(message)) => message,
            Err(e) => e.to_string(),
        };
        // One failed shard takes the broker down: the others must not wait
        // for it at a barrier forever.
        shutdown.request();
        failure.get_or_insert(StartError::Shard {
            shard,
            message: result,
        });
    }
    match failure {
        Some(e) => Err(e),
        None => {
            tracing::info!(
                uptime_s = started.elapsed().as_secs(),
                "broker stopped cleanly"
            );
            Ok(())
        }
    }
}

/// One shard's whole life, on its own executor.
async fn run_shard(
    ends: MeshEnds<Shard>,
    config: Arc<Config>,
    shutdown: Arc<Shutdown>,
    catalogue: Catalogue,
) -> Result<(), String> {
    let shard_id = ends.shard;
    let placement = Placement::new(config.shards.len());
    let (mesh, receivers) = mesh::Mesh::connect(ends).await;
    let request_memory = Rc::new(glommio::sync::Semaphore::new(
        config.server.request_memory_per_shard_bytes as u64,
    ));
    let shard = Rc::new(Shard {
        id: shard_id,
        config: config.clone(),
        placement,
        mesh: mesh.clone(),
        shutdown: shutdown.clone(),
        next_producer_id: std::cell::Cell::new(catalogue.producer_id_reserved_end),
        catalogue: std::cell::RefCell::new(catalogue),
        request_memory,
        connections: std::cell::Cell::new(0),
        stopping: std::cell::Cell::new(false),
        partitions: Default::default(),
        stop_signal: Default::default(),
        catalogue_lock: glommio::sync::Semaphore::new(1),
        groups: Rc::new(crate::group::handlers::service_for_shard(
            &config.groups,
            &placement,
            shard_id,
            crate::group::service::now_ms(),
        )),
    });
    let servers: Vec<_> = receivers
        .into_iter()
        .map(|(from, receiver)| {
            glommio::spawn_local(mesh.clone().serve(shard.clone(), from, receiver))
        })
        .collect();

    // Step 3: storage recovery of this shard's partitions.
    let recovery_started = Instant::now();
    let recovered = match crate::partition::open_owned(&shard).await {
        Ok(n) => n,
        Err(e) => {
            shutdown.request();
            // Still meet the others at every barrier so that they can stop.
            shutdown.barrier(Phase::Recovered).await;
            shutdown.barrier(Phase::Drained).await;
            shutdown.barrier(Phase::Closed).await;
            return Err(format!("recovery failed: {e}"));
        }
    };
    tracing::info!(
        shard = shard_id,
        partitions = recovered,
        elapsed_ms = recovery_started.elapsed().as_millis() as u64,
        "step 3/4: storage recovered"
    );
    shutdown.barrier(Phase::Recovered).await;
    let retention = glommio::spawn_local(crate::partition::retention_loop(shard.clone()));
    let groups = glommio::spawn_local(crate::group::handlers::run(shard.clone()));

    // Step 4: listeners.
    let listener = match bind(config.listen) {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::error!(shard = shard_id, listen = %config.listen, error = %e, "cannot listen");
            shutdown.request();
            None
        }
    };
    let acceptor = listener.map(|listener| {
        tracing::info!(shard = shard_id, listen = %config.listen, "step 4/4: accepting connections");
        if shard.is_catalogue_shard() {
            tracing::info!(listen = %config.listen, "broker ready");
        }
        glommio::spawn_local(crate::conn::accept_loop(shard.clone(), listener))
    });

    shutdown.wait_requested().await;

    // Reverse order: stop accepting, finish in-flight requests.
    tracing::info!(
        shard = shard_id,
        "shutdown 1/3: stop accepting, finishing in-flight requests"
    );
    shard.stopping.set(true);
    crate::conn::wake_all(&shard);
    shard.groups.release_waiting();
    if let Some(acceptor) = acceptor {
        acceptor.cancel().await;
    }
    let drain_deadline = Instant::now() + Duration::from_millis(limits::SHUTDOWN_DRAIN_MS);
    while shard.connections.get() > 0 && Instant::now() < drain_deadline {
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
    if shard.connections.get() > 0 {
        tracing::warn!(
            shard = shard_id,
            connections = shard.connections.get(),
            "connections still open after the drain deadline; closing anyway"
        );
    }
    shutdown.barrier(Phase::Drained).await;

    retention.cancel().await;
    groups.cancel().await;
    if let Err(e) = shard.groups.close().await {
        tracing::error!(shard = shard_id, error = %e, "closing group logs failed");
    }
    tracing::info!(shard = shard_id, "shutdown 2/3: syncing and closing logs");
    let close_result = crate::partition::close_all(&shard).await;
    shutdown.barrier(Phase::Closed).await;

    mesh.close();
    for server in servers {
        server.await;
    }
    tracing::info!(shard = shard_id, "shutdown 3/3: shard stopped");
    close_result.map_err(|e| format!("closing logs: {e}"))
}

fn bind(addr: SocketAddr) -> std::io::Result<glommio::net::TcpListener> {
    // glommio sets SO_REUSEPORT, so every shard binds the same address and
    // the kernel spreads new connections across them.
    glommio::net::TcpListener::bind(addr).map_err(|e| std::io::Error::other(e.to_string()))
}
