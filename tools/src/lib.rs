//! Operator tools: the admin CLI and the fault checker.
//!
//! Owns: [`check`], the `sluice-check` fault checker (a Jepsen-style queue
//! workload run through kills, pauses, full disks and network faults, a
//! history of every operation, and a checker that proves from that history
//! that nothing acknowledged was lost). The admin CLI (`sluicectl`) joins
//! this crate later, as its own module beside `check`.
//!
//! Never: speaks the Kafka protocol itself (everything goes through
//! `net::client`), links the broker's crates (`engine`, `storage`): a tool
//! sees a broker only as a user does, as a process with flags, a data
//! directory and a Kafka port; nor does the checker trust the workload's own
//! view of what happened: it judges from the saved history alone, so a
//! history can be re-checked anywhere (`sluice-check analyze`).

pub mod check;
