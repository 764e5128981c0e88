//! `net`'s integration tests, through the public API only: golden frames
//! captured from real clients, and hostile frames under a counting allocator.

mod alloc_counter;
mod golden;
mod hostile;
mod zero_copy;
