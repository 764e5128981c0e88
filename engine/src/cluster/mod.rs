//! The cluster layer: what exists (topics and their configs), who owns what
//! (placement of partitions and groups on shards), and the writer of that
//! metadata (the controller role, on one shard).
//!
//! Every shard holds a [`MetadataCache`], a replica of the metadata that the
//! request layer reads without crossing shards. Changes go through the
//! controller shard ([`topics`]), which makes them durable and then applies
//! them to every shard's cache in the same order.

pub mod catalogue;
mod controller;
mod metadata;
pub mod placement;
pub mod topics;

pub use controller::Controller;
pub use metadata::MetadataCache;
