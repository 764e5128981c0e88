//! Splitting a request among the shards that own its partitions, and joining
//! the answers back in request order: the one way Produce, Fetch and
//! ListOffsets reach their partitions.
//!
//! A request's partition entries are numbered by their [`Slot`] (topic
//! position, partition position). [`ByOwner`] groups them by owner shard;
//! [`ByOwner::send`] hands each owner its entries, one owner after the other,
//! through the ordered path of [`Shard::send`], so the synchronous part of
//! the owner's job runs in the order the connection sent its requests; the
//! returned [`Gathered`] joins the owners' answers by slot. [`locate`] says
//! which shard of this broker serves a partition, or why none does.

use std::future::Future;
use std::rc::Rc;

use net::ErrorCode;

use crate::cluster::records::{NodeId, NO_LEADER};
use crate::cluster::Owner;
use crate::shard::mesh::{Reply, ShardGone};
use crate::shard::{Shard, ShardId};

/// Why a partition is not served here, for its answer: the error and, when
/// another broker leads it, that leader and its epoch (KIP-951 hints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elsewhere {
    pub error: ErrorCode,
    pub leader: Option<(NodeId, i32)>,
}

/// The shard of this broker that serves `partition` of `topic`, or why
/// none does: the partition does not exist, has no leader, or is led by
/// another broker (never a hop to another node inside a Kafka request).
pub fn locate(shard: &Shard, topic: &str, partition: i32) -> Result<ShardId, Elsewhere> {
    match shard.metadata.owner(topic, partition) {
        Some(Owner::Local(owner)) => Ok(owner),
        Some(Owner::Remote { leader, .. }) if leader == NO_LEADER => Err(Elsewhere {
            error: ErrorCode::LeaderNotAvailable,
            leader: None,
        }),
        Some(Owner::Remote {
            leader,
            leader_epoch,
        }) => Err(Elsewhere {
            error: ErrorCode::NotLeaderOrFollower,
            leader: Some((leader, leader_epoch)),
        }),
        None => Err(Elsewhere {
            error: ErrorCode::UnknownTopicOrPartition,
            leader: None,
        }),
    }
}

/// Where an entry sits in its request: (topic position, partition position).
pub type Slot = (usize, usize);

/// A request's entries grouped by owner shard, in request order within each.
#[derive(Clone)]
pub struct ByOwner<P> {
    owners: Vec<Vec<(Slot, P)>>,
}

impl<P: Send + 'static> ByOwner<P> {
    pub fn new(shard_count: usize) -> Self {
        Self {
            owners: (0..shard_count).map(|_| Vec::new()).collect(),
        }
    }

    pub fn push(&mut self, owner: ShardId, slot: Slot, part: P) {
        self.owners[owner].push((slot, part));
    }

    pub fn is_empty(&self) -> bool {
        self.owners.iter().all(Vec::is_empty)
    }

    /// The entries of each owner that has any, in shard order.
    pub fn owners(&self) -> impl Iterator<Item = (ShardId, &[(Slot, P)])> {
        self.owners
            .iter()
            .enumerate()
            .filter(|(_, parts)| !parts.is_empty())
            .map(|(owner, parts)| (owner, parts.as_slice()))
    }

    /// Hands every owner its entries with `job`, which must answer one `R`
    /// per entry, in the order given. Returns once every job is on its way:
    /// each job's synchronous part has run (local owner) or is queued behind
    /// the jobs this shard sent before (other owners). An owner that is gone
    /// answers `gone` for each of its entries.
    pub async fn send<R, F, Fut>(self, shard: &Rc<Shard>, job: F, gone: R) -> Gathered<R>
    where
        R: Clone + Send + 'static,
        F: Fn(Rc<Shard>, Vec<P>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Vec<R>> + 'static,
    {
        let mut replies = Vec::new();
        for (owner, entries) in self.owners.into_iter().enumerate() {
            if entries.is_empty() {
                continue;
            }
            let (slots, parts): (Vec<Slot>, Vec<P>) = entries.into_iter().unzip();
            let job = job.clone();
            let reply = shard.send(owner, move |owner| job(owner, parts)).await;
            replies.push((slots, reply));
        }
        Gathered { replies, gone }
    }
}

/// One owner's answers on their way, for the entries at `Vec<Slot>`.
type OwnerReply<R> = (Vec<Slot>, Result<Reply<Vec<R>>, ShardGone>);

/// The answers on their way from the owners.
pub struct Gathered<R> {
    replies: Vec<OwnerReply<R>>,
    gone: R,
}

impl<R: Clone + Send + 'static> Gathered<R> {
    /// Every entry's answer, in request (slot) order.
    pub async fn join(self) -> Vec<(Slot, R)> {
        let mut out = Vec::new();
        for (slots, reply) in self.replies {
            match reply {
                Ok(reply) => {
                    let answers = reply.await;
                    assert_eq!(answers.len(), slots.len(), "one answer per entry");
                    out.extend(slots.into_iter().zip(answers));
                }
                Err(_) => out.extend(slots.into_iter().map(|slot| (slot, self.gone.clone()))),
            }
        }
        out.sort_by_key(|(slot, _)| *slot);
        out
    }
}
