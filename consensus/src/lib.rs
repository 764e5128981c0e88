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
//!
//! The application's loop, for a single-voter group with in-memory storage:
//!
//! ```
//! use consensus::{Config, MemStorage, RawNode, Role};
//!
//! let mut node = RawNode::new(&Config::new(1, 42), MemStorage::bootstrap(&[1]));
//! node.campaign();
//! let mut applied = Vec::new();
//! for round in 0..3 {
//!     if round == 1 {
//!         node.propose(bytes::Bytes::from_static(b"record batch")).unwrap();
//!     }
//!     while node.has_ready() {
//!         let ready = node.ready();
//!         if let Some(snapshot) = &ready.snapshot {
//!             node.store_mut().apply_snapshot(snapshot.clone()); // and restore the state machine
//!         }
//!         node.store_mut().append(&ready.entries);
//!         if let Some(hard_state) = ready.hard_state {
//!             node.store_mut().set_hard_state(hard_state);
//!         }
//!         // (fsync here if ready.must_sync), then send ready.messages
//!         applied.extend(ready.committed_entries.iter().map(|e| e.data.clone()));
//!         node.advance();
//!     }
//!     node.tick();
//! }
//! assert_eq!(node.status().role, Role::Leader);
//! assert!(applied.iter().any(|d| &d[..] == b"record batch"));
//! ```

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
