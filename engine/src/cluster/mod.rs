//! The cluster layer: the cluster metadata (brokers, topics, partitions and
//! their leaders, configs, producer ids), where it is decided (the
//! controller, a Raft group of its own) and how every broker and shard
//! follows it.
//!
//! - [`records`]: the changes, as flatbuffers records; [`image`]: the
//!   metadata they build, a pure state machine (`apply`).
//! - [`controller`]: the Raft node of the controller group and its disk.
//! - [`placement`]: which brokers replicate a partition, which shard of a
//!   broker owns it; [`proposals`]: the records a change proposes (pure).
//! - [`metadata`]: each shard's replica of the image, read by the request
//!   layer on its own shard.
//! - [`driver`]: the one module here that uses the shard container: runs
//!   the controller, applies its records on every shard with their side
//!   effects, and turns metadata requests into proposals.
//! - [`transport`]: node-to-node links (`net::rpc`) for Raft and requests.

pub mod controller;
pub mod driver;
pub mod identity;
pub mod image;
mod legacy;
mod metadata;
pub mod placement;
pub mod proposals;
pub mod records;
pub mod rpc;
#[cfg(test)]
mod sim;
pub mod topics;
pub mod transport;

pub use driver::{ClusterNode, Effects};
pub use metadata::{MetadataCache, Owner};
