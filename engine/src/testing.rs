//! In-process shards for the engine's own tests: a real single-node broker
//! without listeners (executors, the cross-shard mesh, the controller,
//! partitions and group coordinators on a temporary directory).
//! Tests drive the request path through [`crate::kafka::dispatch`] as a
//! connection's read loop does.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_lite::FutureExt;

use crate::cluster::driver;
use crate::cluster::topics::NewTopic;
use crate::config::{Cli, Config};
use crate::shard::mesh;
use crate::shard::Shard;
use crate::shutdown::{Phase, Shutdown};
use crate::{bootstrap, limits};

/// A broker configuration for tests: `shard_count` shards on a temporary
/// data directory (kept alive by the returned guard), then `extra_toml`.
pub fn config(shard_count: usize, extra_toml: &str) -> (Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let cpus: Vec<usize> = (0..shard_count).collect();
    let text = format!(
        "data_dir = {:?}\n{extra_toml}\n[shards]\ncores = {shard_count}\n",
        dir.path().display().to_string()
    );
    let config = Config::from_toml(&text, &Cli::default(), &cpus).expect("test config");
    (config, dir)
}

/// Runs `body` on every shard of a single-node broker made of `config`,
/// once the broker has registered and `topics` (name, partitions) exist;
/// returns once every body has finished and every shard has closed its
/// logs.
pub fn run_shards<F, Fut>(config: Config, topics: &[(&str, i32)], body: F)
where
    F: Fn(Rc<Shard>) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    run_shards_with_capacity(config, topics, limits::CROSS_SHARD_CHANNEL_CAPACITY, body)
}

/// [`run_shards`] with cross-shard channels of `channel_capacity` messages
/// (small ones make senders wait, as under load).
pub fn run_shards_with_capacity<F, Fut>(
    config: Config,
    topics: &[(&str, i32)],
    channel_capacity: usize,
    body: F,
) where
    F: Fn(Rc<Shard>) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let config = Arc::new(config);
    let shard_count = config.shards.len();
    let shutdown = Shutdown::new(shard_count);
    let topics: Vec<NewTopic> = topics
        .iter()
        .map(|&(name, partitions)| NewTopic {
            name: name.to_string(),
            partitions,
            replication_factor: -1,
            configs: Vec::new(),
        })
        .collect();
    let handles: Vec<_> = mesh::build::<Shard>(shard_count, channel_capacity)
        .into_iter()
        .map(|ends| {
            let (config, shutdown, topics, body) = (
                config.clone(),
                shutdown.clone(),
                topics.clone(),
                body.clone(),
            );
            glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
                .io_memory(2 << 20)
                .spawn(move || async move {
                    let (shard, servers) = bootstrap::connect_shard(ends, &config, &shutdown).await;
                    let (controller, _) = bootstrap::start_cluster(&shard).await.expect("cluster");
                    if shard.is_controller_shard() {
                        for created in driver::create_topics(&shard, topics, false).await.await {
                            created.expect("create a test topic");
                        }
                    }
                    shutdown.barrier(Phase::Recovered).await;
                    // A failing body must still meet the other shards at
                    // the barriers, or they would wait for it for ever.
                    let outcome = AssertUnwindSafe(body(shard.clone())).catch_unwind().await;
                    shutdown.barrier(Phase::Drained).await;
                    if let Some(node) = shard.cluster.get() {
                        node.controller.stop();
                    }
                    if let Some(controller) = controller {
                        controller.await;
                    }
                    shard.groups.close().await.expect("close group logs");
                    shard
                        .partitions
                        .close_all()
                        .await
                        .expect("close partitions");
                    shutdown.barrier(Phase::Closed).await;
                    shard.mesh.close();
                    for server in servers {
                        server.await;
                    }
                    if let Err(panic) = outcome {
                        std::panic::resume_unwind(panic);
                    }
                })
                .expect("test executor")
        })
        .collect();
    for handle in handles {
        handle.join().expect("a test shard panicked");
    }
}

/// How long a [`Rendezvous`] waits for the others.
pub const RENDEZVOUS_TIMEOUT: Duration = Duration::from_secs(60);

/// A meeting point for the bodies of [`run_shards`]: each waits until all
/// `parties` have arrived. Polls, so that a waiting shard keeps serving the
/// others' cross-shard calls; gives up (panics) after
/// [`RENDEZVOUS_TIMEOUT`], so that a party that failed cannot hang a test.
#[derive(Clone)]
pub struct Rendezvous {
    arrived: Arc<AtomicUsize>,
    parties: usize,
}

impl Rendezvous {
    pub fn new(parties: usize) -> Self {
        Self {
            arrived: Arc::new(AtomicUsize::new(0)),
            parties,
        }
    }

    pub async fn wait(&self) {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + RENDEZVOUS_TIMEOUT;
        while self.arrived.load(Ordering::SeqCst) < self.parties {
            assert!(
                std::time::Instant::now() < deadline,
                "the other shards never arrived (did one fail?)"
            );
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
    }
}
