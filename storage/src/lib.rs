//! Storage owns everything a partition keeps on disk: segments, indexes,
//! recovery and retention, behind a small I/O backend trait.
//!
//! It must never open a socket, know a Kafka request or a Raft message, or
//! decode the records inside a batch: batches are opaque bytes except for the
//! 61-byte header defined in [`batch`].

pub mod batch;
