//! An asynchronous Kafka client on glommio, for the load generator and the
//! tools: bootstrap and metadata ([`Client`]), pipelined connections
//! ([`conn::Connection`]), a batching producer ([`Producer`]) and a consumer
//! of assigned partitions ([`Consumer`]).
//!
//! Everything here is single-threaded (`Rc`, not `Send`): each executor owns
//! its own client and shares nothing with the others. It speaks only
//! through the codec of this crate ([`crate::frame`], [`crate::msg`],
//! [`crate::records`]) and `storage::batch` for batch headers.

pub mod cluster;
pub mod compression;
pub mod conn;
pub mod consumer;
pub mod error;
pub mod group;
pub mod limits;
pub mod producer;

pub use cluster::{Client, ClientConfig};
pub use compression::Codec;
pub use consumer::{ConsumedRecord, Consumer};
pub use error::{ClientError, ClientResult};
pub use group::{Assignment, GroupMember};
pub use producer::{partition_for_key, Delivery, Producer, ProducerConfig};

#[cfg(test)]
mod tests;
