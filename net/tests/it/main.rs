//! `net`'s integration tests, through the public API only: golden frames
//! captured from real clients, hostile frames under a counting allocator,
//! and the node-to-node transport over loopback.

mod alloc_counter;
mod golden;
mod hostile;
mod rpc;
mod zero_copy;
