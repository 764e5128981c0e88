//! The broker's life: one ordered start-up sequence, and the same steps in
//! reverse on SIGINT/SIGTERM.
//!
//! Start-up: configuration (already validated by the caller) → data
//! directory identity → io memory fit → one pinned executor per shard →
//! cross-shard mesh → the controller (on the controller shard) replays the
//! metadata into every shard, whose side effects open (recover) the
//! partitions each shard owns → registration with the controller → barrier
//! → listeners. Shutdown: stop accepting → finish in-flight requests →
//! barrier → stop the controller, sync and close every log → exit.

use std::cell::OnceCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::{LocalExecutorBuilder, Placement as CpuPlacement};

use crate::clock::Clock;
use crate::cluster::controller::raft_id;
use crate::cluster::transport::Transport;
use crate::cluster::{ClusterNode, Effects, MetadataCache};
use crate::config::Config;
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
    #[error(transparent)]
    Identity(#[from] crate::cluster::identity::IdentityError),
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

    // Reads SLUICE_TEST_FAULT once and warns loudly if it is set.
    crate::partition::test_fault_drops_this_write();
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    crate::cluster::identity::check(&config.data_dir, &config.cluster_id, config.node_id)?;
    tracing::info!(
        node_id = config.node_id,
        cluster_id = %config.cluster_id,
        voters = ?config.cluster.initial_voters(config.node_id),
        rpc_listen = ?config.cluster.rpc_listen,
        "cluster membership"
    );

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
        let handle = LocalExecutorBuilder::new(CpuPlacement::Fixed(tuning.cpu))
            .name(&format!("sluice-shard-{shard_id}"))
            .io_memory(io_memory)
            .spawn(move || run_shard(ends, config, shutdown))
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
    #[error("the controller cannot start: {0}")]
    Controller(#[source] crate::cluster::controller::ControllerError),
    #[error("registration with the controller failed: {0}")]
    Register(#[source] crate::cluster::topics::TopicError),
    #[error("cannot listen for other nodes on {addr}: {source}")]
    RpcListen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("closing logs failed: {0}")]
    Close(#[source] storage::StorageError),
}

/// One shard's whole life, on its own executor.
async fn run_shard(
    ends: MeshEnds<Shard>,
    config: Arc<Config>,
    shutdown: Arc<Shutdown>,
) -> Result<(), ShardError> {
    let shard_id = ends.shard;
    let (shard, servers) = connect_shard(ends, &config, &shutdown).await;
    let mesh = shard.mesh.clone();

    // Step 3: the metadata, and with it the partitions this shard owns.
    let recovery_started = Instant::now();
    let started = start_cluster(&shard).await;
    let (controller_task, rpc) = match started {
        Ok(started) => started,
        Err(e) => {
            shutdown.request();
            // Still meet the others at every barrier so that they can stop.
            shutdown.barrier(Phase::Recovered).await;
            shutdown.barrier(Phase::Drained).await;
            shutdown.barrier(Phase::Closed).await;
            return Err(e);
        }
    };
    shutdown.barrier(Phase::Recovered).await;
    tracing::info!(
        shard = shard_id,
        partitions = shard.partitions.len(),
        elapsed_ms = recovery_started.elapsed().as_millis() as u64,
        "step 3/4: metadata applied, storage recovered"
    );
    let retention =
        glommio::spawn_local(shard.partitions.clone().retention_loop(shard.clock.clone()));
    let group_timers = glommio::spawn_local(shard.groups.clone().run_timers());

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
    group_timers.cancel().await;
    if let Some(node) = shard.cluster.get() {
        node.controller.stop();
    }
    if let Some(task) = controller_task {
        task.await;
    }
    if let Some(rpc) = rpc {
        rpc.stop().await;
    }
    shard.transport.close().await;
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

/// Joins the cluster: the RPC listener of this shard (if the node has
/// peers); on the controller shard, the controller, the replay of the
/// committed metadata into every shard (which opens their partitions) and
/// this broker's registration. Returns the controller's task and the RPC
/// service, to stop at shutdown. The other shards return at once; their
/// partitions open as the controller shard's replay reaches them, and the
/// start-up barrier waits for that.
pub(crate) async fn start_cluster(
    shard: &Rc<Shard>,
) -> Result<
    (
        Option<glommio::Task<()>>,
        Option<crate::cluster::rpc::RpcService>,
    ),
    ShardError,
> {
    let rpc = match shard.config.cluster.rpc_listen {
        Some(addr) => Some(
            crate::cluster::rpc::RpcService::start(shard, addr)
                .map_err(|source| ShardError::RpcListen { addr, source })?,
        ),
        None => None,
    };
    if !shard.is_controller_shard() {
        return Ok((None, rpc));
    }
    let controller_storage = storage::ShardStorage::new(storage::ShardStorageConfig {
        cache_bytes_max: limits::CONTROLLER_CACHE_BYTES,
    });
    let (node, task, replayed) = ClusterNode::start(shard, &controller_storage)
        .await
        .map_err(ShardError::Controller)?;
    shard
        .cluster
        .set(node.clone())
        .unwrap_or_else(|_| unreachable!("the cluster starts once"));
    crate::cluster::driver::wait_everywhere(shard, replayed)
        .await
        .map_err(ShardError::Register)?;
    crate::cluster::driver::join(shard.clone(), node)
        .await
        .map_err(ShardError::Register)?;
    Ok((Some(task), rpc))
}

/// A shard's state on its executor, connected to the other shards: the
/// mesh's serve loops are running (their tasks returned, to await once the
/// mesh is closed); no metadata yet, no partitions open.
pub(crate) async fn connect_shard(
    ends: MeshEnds<Shard>,
    config: &Arc<Config>,
    shutdown: &Arc<Shutdown>,
) -> (Rc<Shard>, Vec<glommio::Task<()>>) {
    let shard_id = ends.shard;
    let clock = Clock::system();
    let groups = Rc::new(GroupService::new(
        &config.groups,
        [],
        // Member ids embed the nonce: it differs per start and per shard.
        clock.now_ms() ^ shard_id as u64,
        clock.clone(),
    ));
    groups.use_broker_store(config);
    let transport_config = (!config.cluster.is_alone()).then(|| {
        net::rpc::Config::new(
            &config.cluster_id,
            raft_id(config.node_id),
            shard_id as u16,
            config.shards.len() as u16,
        )
    });
    let transport = Transport::new(raft_id(config.node_id), transport_config);
    for voter in &config.cluster.voters {
        transport.set_address(raft_id(voter.node_id), &voter.host, voter.port);
    }
    let (mesh, receivers) = mesh::Mesh::connect(ends).await;
    let shard = Rc::new(Shard {
        id: shard_id,
        config: config.clone(),
        clock,
        mesh: mesh.clone(),
        shutdown: shutdown.clone(),
        connections: Connections::new(&config.server),
        metadata: MetadataCache::new(config.node_id, config.shards.len()),
        effects: Effects::default(),
        cluster: OnceCell::new(),
        transport,
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
