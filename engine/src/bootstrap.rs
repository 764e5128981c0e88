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

use crate::clock::Clock;
use crate::cluster::catalogue::Catalogue;
use crate::cluster::placement::Placement;
use crate::cluster::{Controller, MetadataCache};
use crate::config::Config;
use crate::group::placement::OFFSETS_TOPIC;
use crate::group::GroupService;
use crate::kafka::Connections;
use crate::partition::Partitions;
use crate::shard::mesh::{self, MeshEnds};
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
    #[error("shard {shard} failed: {source}")]
    Shard { shard: usize, source: ShardError },
    #[error("shard {shard} panicked")]
    ShardPanicked { shard: usize },
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
        let error = match handle.join() {
            Ok(Ok(())) => continue,
            Ok(Err(source)) => StartError::Shard { shard, source },
            Err(_) => StartError::ShardPanicked { shard },
        };
        // One failed shard takes the broker down: the others must not wait
        // for it at a barrier forever.
        shutdown.request();
        failure.get_or_insert(error);
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

/// Why a shard stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("storage recovery failed: {0}")]
    Recovery(#[source] storage::StorageError),
    #[error("closing logs failed: {0}")]
    Close(#[source] storage::StorageError),
}

/// One shard's whole life, on its own executor.
async fn run_shard(
    ends: MeshEnds<Shard>,
    config: Arc<Config>,
    shutdown: Arc<Shutdown>,
    catalogue: Catalogue,
) -> Result<(), ShardError> {
    let shard_id = ends.shard;
    let (shard, servers) = connect_shard(ends, &config, &shutdown, catalogue).await;
    let mesh = shard.mesh.clone();

    // Step 3: storage recovery of this shard's partitions.
    let recovery_started = Instant::now();
    let recovered = match open_owned_partitions(&shard).await {
        Ok(n) => n,
        Err(e) => {
            shutdown.request();
            // Still meet the others at every barrier so that they can stop.
            shutdown.barrier(Phase::Recovered).await;
            shutdown.barrier(Phase::Drained).await;
            shutdown.barrier(Phase::Closed).await;
            return Err(ShardError::Recovery(e));
        }
    };
    tracing::info!(
        shard = shard_id,
        partitions = recovered,
        elapsed_ms = recovery_started.elapsed().as_millis() as u64,
        "step 3/4: storage recovered"
    );
    shutdown.barrier(Phase::Recovered).await;
    let retention =
        glommio::spawn_local(shard.partitions.clone().retention_loop(shard.clock.clone()));
    let groups = {
        let shard = shard.clone();
        glommio::spawn_local(async move {
            if shard.groups.load_for_broker(&shard.config, shard.id).await {
                shard.groups.clone().run_timers().await;
            }
        })
    };

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
        if shard.is_controller_shard() {
            tracing::info!(listen = %config.listen, "broker ready");
        }
        glommio::spawn_local(crate::kafka::conn::accept_loop(shard.clone(), listener))
    });

    shutdown.wait_requested().await;

    // Reverse order: stop accepting, finish in-flight requests.
    tracing::info!(
        shard = shard_id,
        "shutdown 1/3: stop accepting, finishing in-flight requests"
    );
    shard.connections.stop();
    shard.groups.release_waiting();
    if let Some(acceptor) = acceptor {
        acceptor.cancel().await;
    }
    let drain_deadline = Instant::now() + Duration::from_millis(limits::SHUTDOWN_DRAIN_MS);
    while shard.connections.open() > 0 && Instant::now() < drain_deadline {
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
    if shard.connections.open() > 0 {
        tracing::warn!(
            shard = shard_id,
            connections = shard.connections.open(),
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
    let close_result = shard.partitions.close_all().await;
    shutdown.barrier(Phase::Closed).await;

    mesh.close();
    for server in servers {
        server.await;
    }
    tracing::info!(shard = shard_id, "shutdown 3/3: shard stopped");
    close_result.map_err(ShardError::Close)
}

/// Opens (recovering) every partition in the metadata that this shard owns;
/// returns how many.
pub(crate) async fn open_owned_partitions(shard: &Shard) -> Result<usize, storage::StorageError> {
    let owned: Vec<_> = {
        let catalogue = shard.metadata.catalogue();
        catalogue
            .topics
            .iter()
            .flat_map(|(name, meta)| {
                (0..meta.partitions).map(move |p| (name.clone(), p, meta.clone()))
            })
            .filter(|(name, p, _)| shard.metadata.shard_for(name, *p) == shard.id)
            .collect()
    };
    shard.partitions.open_all(owned).await
}

/// A shard's state on its executor, connected to the other shards: the
/// mesh's serve loops are running (their tasks returned, to await once the
/// mesh is closed); storage is not opened yet.
pub(crate) async fn connect_shard(
    ends: MeshEnds<Shard>,
    config: &Arc<Config>,
    shutdown: &Arc<Shutdown>,
    catalogue: Catalogue,
) -> (Rc<Shard>, Vec<glommio::Task<()>>) {
    let shard_id = ends.shard;
    let placement = Placement::new(config.shards.len());
    let metadata = MetadataCache::new(catalogue, placement);
    let owned_offsets_partitions = (0..crate::group::limits::OFFSETS_TOPIC_PARTITIONS)
        .filter(|p| metadata.shard_for(OFFSETS_TOPIC, *p) == shard_id);
    let clock = Clock::system();
    let groups = Rc::new(GroupService::new(
        &config.groups,
        owned_offsets_partitions,
        // Member ids embed the nonce: it differs per start and per shard.
        clock.now_ms() ^ shard_id as u64,
        clock.clone(),
    ));
    let (mesh, receivers) = mesh::Mesh::connect(ends).await;
    let first_producer_id = metadata.catalogue().producer_id_reserved_end;
    let shard = Rc::new(Shard {
        id: shard_id,
        config: config.clone(),
        clock,
        mesh: mesh.clone(),
        shutdown: shutdown.clone(),
        connections: Connections::new(&config.server),
        controller: Controller::new(first_producer_id),
        metadata,
        partitions: Rc::new(Partitions::new(config.clone(), shard_id)),
        groups,
    });
    let servers = receivers
        .into_iter()
        .map(|(from, receiver)| {
            glommio::spawn_local(mesh.clone().serve(shard.clone(), from, receiver))
        })
        .collect();
    (shard, servers)
}

fn bind(addr: SocketAddr) -> std::io::Result<glommio::net::TcpListener> {
    // glommio sets SO_REUSEPORT, so every shard binds the same address and
    // the kernel spreads new connections across them.
    glommio::net::TcpListener::bind(addr).map_err(|e| std::io::Error::other(e.to_string()))
}
