//! The consensus crate's one integration-test binary: the cluster simulator
//! run over many seeds, data-driven scenario tests and wire-format tests.

mod scenario;
#[allow(dead_code)] // Parts are used only by the benchmark, which includes this file too.
mod sim;
mod sim_tests;
mod wire_tests;
