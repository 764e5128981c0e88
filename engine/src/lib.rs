//! The `sluice` broker: configuration, shards (one pinned glommio executor per
//! core), cross-shard calls, the topic catalogue, request handlers and
//! producer state; it wires `storage` (partition logs) and `net` (the Kafka
//! wire format) together.
//!
//! It must never parse or write Kafka bytes itself (that is `net`'s job), know
//! the on-disk layout (that is `storage`'s), or share mutable state between
//! shards: a shard reaches another shard's partitions only through
//! [`shard::Shard::call`].

pub mod bootstrap;
pub mod catalogue;
pub mod config;
pub mod conn;
pub mod delays;
pub mod group;
pub mod handlers;
pub mod limits;
pub mod memlock;
pub mod mesh;
pub mod partition;
pub mod placement;
pub mod producer;
pub mod recv;
pub mod sequencer;
pub mod shard;
pub mod shutdown;
#[cfg(test)]
pub mod testing;
pub mod topics;
