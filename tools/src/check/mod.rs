//! `sluice-check`: drives a queue workload through faults and proves from
//! the recorded history that nothing acknowledged was lost.

pub mod checker;
pub mod history;
pub mod limits;
