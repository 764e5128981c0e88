//! `sluice-check`: drives a queue workload through faults and proves from
//! the recorded history that nothing acknowledged was lost.
//!
//! A run ([`run`]) starts its own nodes ([`nodes`], each behind a
//! fault-injecting [`proxy`], on a small loop-mounted [`disk`] when disks
//! are to fill up) or attaches to given brokers; runs the [`workload`] while
//! the [`nemesis`] carries out a seeded fault [`faults::schedule`]; heals,
//! reads every partition back, and hands the [`history`] to the
//! [`checker`]. The [`report`] and the [`plot`] show what happened;
//! [`soak`] repeats runs over many seeds.
//!
//! The checker never looks at anything but the history file, so
//! `sluice-check analyze` on a saved history gives the same verdict.

pub mod checker;
pub mod disk;
pub mod error;
pub mod faults;
pub mod history;
pub mod limits;
pub mod nemesis;
pub mod nodes;
pub mod plot;
pub mod proxy;
pub mod report;
pub mod run;
pub mod soak;
pub mod workload;
