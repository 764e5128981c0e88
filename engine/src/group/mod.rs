//! Consumer groups: the classic Kafka group protocol (JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup), committed offsets, and their durable form in the
//! internal `__consumer_offsets` topic.
//!
//! The state machine ([`Coordinator`]) is pure: it reads no clock, does no
//! I/O and never awaits. Time comes in as `now_ms`, output goes out as a
//! [`Ready`] (records to append, then replies to send), so that every
//! rebalance scenario is a deterministic unit test. [`service`] drives it on
//! a shard (the `__consumer_offsets` logs, timers); the Kafka layer
//! (`crate::kafka`) turns `net`'s group messages into its requests.
//!
//! It must never touch another shard's groups except through a cross-shard
//! call, parse Kafka bytes (that is `net`'s job), or answer a request before
//! the records that answer depends on are durable.

pub mod api;
pub mod batch;
pub mod codec;
mod config;
mod coordinator;
pub mod error;
pub mod limits;
mod member;
mod offsets;
pub mod placement;
pub mod record;
pub mod service;
mod state;

#[cfg(test)]
mod tests;

pub use config::{FileGroups, GroupConfig, GroupConfigError};
pub use coordinator::Coordinator;
pub use error::ErrorCode;
pub use record::{GroupRecord, Ready};
pub use service::{GroupService, LoadReport};
pub use state::GroupState;
