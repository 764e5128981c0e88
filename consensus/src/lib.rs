//! Raft consensus as a pure, deterministic state machine.
//!
//! Owns: the Raft algorithm for one group ([`raft`]), the [`RawNode`] facade
//! that hands the application one [`Ready`] at a time, the [`Storage`] trait
//! through which Raft reads its durable log (with [`MemStorage`] for tests),
//! and the wire format of Raft messages ([`wire`]: rkyv frames read in place,
//! CRC32C-protected, many groups per frame).
//!
//! Never does: I/O of any kind, reading a clock, unseeded randomness, threads
//! or timers, or looking inside normal entries (they are opaque bytes; only
//! membership-change entries are decoded). Time is `tick()`, input is
//! `step()`/`propose()`, output is `ready()`; the same inputs always give the
//! same outputs. See `consensus/DESIGN.md` for the `Ready` contract and the
//! invariants the simulator checks.

pub mod limits;
pub mod log;
pub mod message;
pub mod progress;
pub mod raft;
pub mod raw_node;
pub mod storage;
pub mod types;
pub mod wire;

pub use message::{Message, MessageBody};
pub use raft::{Config, ProposeError};
pub use raw_node::{RawNode, Ready, Status};
pub use storage::{bootstrap_entries, MemStorage, Storage, StorageError};
pub use types::*;
