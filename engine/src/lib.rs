//! The `sluice` broker: it wires `storage` (partition logs), `net` (the Kafka
//! wire format) and `consensus` (Raft) into shards, one pinned glommio
//! executor per core.
//!
//! Layers, top to bottom: [`kafka`] (connections and request handlers) uses
//! the services a [`shard::Shard`] holds: [`cluster`] (metadata: topics,
//! placement, the controller role), [`partition`] (logs and producer
//! state) and [`group`] (consumer group coordinators); [`shard`] is the
//! container and the cross-shard mesh. The services never reach for the
//! container or each other; [`bootstrap`] starts them in order.
//!
//! It must never parse or write Kafka bytes itself (that is `net`'s job), know
//! the on-disk layout (that is `storage`'s), or share mutable state between
//! shards: a shard reaches another shard's partitions only through
//! [`shard::Shard::call`].

pub mod bootstrap;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod delays;
pub mod group;
pub mod kafka;
pub mod limits;
pub mod memlock;
pub mod partition;
pub mod sequencer;
pub mod shard;
pub mod shutdown;
#[cfg(test)]
pub mod testing;
