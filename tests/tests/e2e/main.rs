//! The one end-to-end test binary: every test spawns the real `sluice`
//! binary and drives it with real clients.

mod bench;
mod broker;
mod check;
mod cluster;
mod groups;
mod ordering;
