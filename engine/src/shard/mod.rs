//! One shard: everything a pinned executor owns (its partitions, its replica of
//! the catalogue, its connections and budgets) and the way to reach the other
//! shards ([`Shard::call`]).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::mesh::{LocalFuture, Mesh, Reply, ShardGone};
use crate::placement::{Placement, ShardId};
use crate::shutdown::Shutdown;

pub struct Shard {
    pub id: ShardId,
    pub config: Arc<Config>,
    pub placement: Placement,
    pub mesh: Rc<Mesh<Shard>>,
    pub shutdown: Arc<Shutdown>,
    /// This shard's copy of the topic catalogue. Only the catalogue shard
    /// changes the durable one; every shard applies the same updates.
    pub catalogue: RefCell<Catalogue>,
    /// Bytes of request frames held by this shard's connections.
    pub request_memory: Rc<glommio::sync::Semaphore>,
    pub connections: Cell<usize>,
    /// Set when the shard stops taking new requests.
    pub stopping: Cell<bool>,
    pub partitions: crate::partition::Partitions,
    /// Woken when the shard starts stopping, so idle connections notice.
    pub stop_signal: storage::notify::Signal,
    /// The order of catalogue changes: each takes its turn in the order it
    /// reached the catalogue shard (used there only).
    pub catalogue_order: crate::sequencer::Sequencer,
    /// Next producer id to hand out (used on the catalogue shard only).
    pub next_producer_id: Cell<i64>,
    /// The consumer groups this shard coordinates.
    pub groups: Rc<crate::group::GroupService>,
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

    /// Runs `job` on the shard that coordinates consumer group `group_id`:
    /// the hook through which group requests reach their coordinator.
    pub async fn call_group<R, F, Fut>(
        self: &Rc<Self>,
        group_id: &str,
        job: F,
    ) -> Result<R, ShardGone>
    where
        R: Send + 'static,
        F: FnOnce(Rc<Shard>) -> Fut + Send + 'static,
        Fut: Future<Output = R> + 'static,
    {
        self.call(self.placement.shard_for_group(group_id), job)
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
        let calls: Vec<_> = (0..self.placement.shard_count())
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

    pub fn is_catalogue_shard(&self) -> bool {
        self.id == self.placement.catalogue_shard()
    }
}
