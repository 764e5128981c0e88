//! One shard: the services a pinned executor owns, one instance per shard
//! (the Redpanda `sharded<service>` shape), and the way to reach the other
//! shards ([`Shard::call`], [`Shard::send`], [`Shard::call_all`]: the
//! `invoke_on` of this design).
//!
//! The services: [`Connections`] (the Kafka connections' limits and
//! budgets), [`MetadataCache`] (this shard's replica of the cluster
//! metadata: topics and who owns what) with its [`Effects`], the
//! [`ClusterNode`] (the controller, on the controller shard only), the
//! [`Transport`] to other nodes, [`Partitions`] and [`GroupService`]. None
//! of them knows the others or this container; the request layer (`kafka`)
//! and the cluster's driver use the container to combine them.

pub mod mesh;

use std::cell::OnceCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

use crate::clock::Clock;
use crate::cluster::transport::Transport;
use crate::cluster::{ClusterNode, Effects, MetadataCache};
use crate::config::Config;
use crate::group::GroupService;
use crate::kafka::Connections;
use crate::partition::Partitions;
use crate::shutdown::Shutdown;
pub use mesh::ShardId;
use mesh::{LocalFuture, Mesh, Reply, ShardGone};

pub struct Shard {
    pub id: ShardId,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub mesh: Rc<Mesh<Shard>>,
    pub shutdown: Arc<Shutdown>,
    pub connections: Connections,
    pub metadata: MetadataCache,
    /// The side effects of applied metadata on this shard, in order.
    pub effects: Effects,
    /// The cluster's state (the controller): on the controller shard only.
    pub cluster: OnceCell<Rc<ClusterNode>>,
    /// Links to the other nodes of the cluster.
    pub transport: Transport,
    pub partitions: Rc<Partitions>,
    pub groups: Rc<GroupService>,
}

impl Shard {
    /// Runs `job` on shard `target` (inline if it is this shard), moving
    /// whatever the closure captured. This is the only way to touch another
    /// shard's state.
    pub async fn call<R, F, Fut>(self: &Rc<Self>, target: ShardId, job: F) -> Result<R, ShardGone>
    where
        R: Send + 'static,
        F: FnOnce(Rc<Shard>) -> Fut + Send + 'static,
        Fut: Future<Output = R> + 'static,
    {
        self.mesh
            .call(self, target, move |shard| {
                Box::pin(job(shard)) as LocalFuture<R>
            })
            .await
    }

    /// Hands `job` to shard `target` and returns once it is on its way, with
    /// the future of its answer. `job` itself (the closure, not the future
    /// it returns) runs on the target in the order this shard sent its jobs
    /// there: the ordered path requests take to their owners.
    pub async fn send<R, F, Fut>(
        self: &Rc<Self>,
        target: ShardId,
        job: F,
    ) -> Result<Reply<R>, ShardGone>
    where
        R: Send + 'static,
        F: FnOnce(Rc<Shard>) -> Fut + Send + 'static,
        Fut: Future<Output = R> + 'static,
    {
        self.mesh
            .send(self, target, move |shard| {
                Box::pin(job(shard)) as LocalFuture<R>
            })
            .await
    }

    /// Runs `job` on every shard (this one included) and returns the answers
    /// in shard order.
    pub async fn call_all<R, F, Fut>(self: &Rc<Self>, job: F) -> Vec<Result<R, ShardGone>>
    where
        R: Send + 'static,
        F: Fn(Rc<Shard>) -> Fut + Send + Clone + 'static,
        Fut: Future<Output = R> + 'static,
    {
        let calls: Vec<_> = (0..self.metadata.shard_count())
            .map(|target| {
                let job = job.clone();
                let shard = self.clone();
                glommio::spawn_local(async move { shard.call(target, job).await })
            })
            .collect();
        let mut out = Vec::with_capacity(calls.len());
        for call in calls {
            out.push(call.await);
        }
        out
    }

    /// Whether this shard writes the cluster metadata.
    pub fn is_controller_shard(&self) -> bool {
        self.id == self.metadata.controller_shard()
    }
}
