//! Storage owns everything a partition keeps on disk: segments, indexes,
//! recovery and retention, behind a small I/O backend trait.
//!
//! It must never open a socket, know a Kafka request or a Raft message, or
//! decode the records inside a batch: batches are opaque bytes except for the
//! 61-byte header defined in [`batch`].
//!
//! Layout: [`format`] holds the on-disk layouts (pure functions over bytes),
//! [`io`] the backend trait with its direct-I/O and in-memory (fault
//! injecting) implementations, [`log`] the logic (appends and group commit,
//! reads, recovery, truncation, retention) and [`cache`] the per-shard cache
//! of recent batches. Everything runs inside one glommio executor; the types
//! are `!Send` except the `Bytes` they hand out. See `storage/DESIGN.md`.

pub mod batch;
pub mod cache;
pub mod config;
pub mod error;
pub mod format;
pub mod io;
pub mod limits;
pub mod log;
pub mod notify;
pub mod testing;

pub use cache::ShardStorage;
pub use config::{FsyncPolicy, LogConfig, ShardStorageConfig};
pub use error::{Result, StorageError};
pub use log::{AppendInfo, Log, ReadResult, RecoveryReport, RetentionReport, TornTail};
